package org.perfusionjobs.engine.pipeline;

import ai.djl.ndarray.NDManager;
import org.perfusionjobs.engine.attention.Conditioning;

/**
 * How a request's text conditions the UNet: the one place where a personalization method plugs into
 * the pipeline. It is resolved once per request, before denoising, and returns the K/V inputs of
 * every cross-attention layer and, optionally, the processor that turns them into K and V
 * (Perfusion's gated rank-1 edit; textual inversion would only change the encoding, a K/V LoRA only
 * the processor). The pipeline itself knows no method: {@link #PLAIN} is plain text-to-image.
 */
@FunctionalInterface
public interface Conditioner {

  /** Both paths see the text encoder's output; each layer uses its own processor. */
  Conditioner PLAIN = (sd, prompts, m) -> Conditioning.of(sd.encodePrompts(prompts.rows(), m));

  /**
   * @param sd the pipeline, for its tokenizer, text encoder, cross-attention layers and options
   * @param prompts the request's text rows
   * @param m the request's manager: everything made here lives as long as the request
   */
  Conditioning condition(StableDiffusionPipeline sd, PromptBatch prompts, NDManager m);
}
