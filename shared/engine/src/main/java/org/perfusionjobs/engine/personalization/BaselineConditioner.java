package org.perfusionjobs.engine.personalization;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.Map;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.nn.LinearDelta;
import org.perfusionjobs.engine.nn.WeightEdits;
import org.perfusionjobs.engine.personalization.lora.Lora;
import org.perfusionjobs.engine.pipeline.Conditioner;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.PromptBatch;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * A baseline concept at generation, through the core's two hooks: the text encoding (the concept
 * word as one added token with the learned embedding, when there is one) and the UNet's {@link
 * WeightEdits} (LoRA terms times {@code scale}; replaced weights as stored).
 */
final class BaselineConditioner implements Conditioner {
  private final BaselineConcept concept;
  private final float scale;

  BaselineConditioner(BaselineConcept concept, float scale) {
    if (!Float.isFinite(scale)) {
      throw new IllegalArgumentException("scale must be finite, got " + scale);
    }
    this.concept = concept;
    this.scale = scale;
  }

  @Override
  public Conditioning condition(StableDiffusionPipeline sd, PromptBatch prompts, NDManager m) {
    if (!concept.baseModelId().equals(sd.baseModelId())) {
      throw new IllegalArgumentException(
          "concept '"
              + concept.placeholder()
              + "' ("
              + concept.method()
              + ") was trained on base model "
              + concept.baseModelId()
              + ", not "
              + sd.baseModelId());
    }
    EngineOptions o = sd.options();
    NDArray text;
    if (concept.embedding() != null) {
      ClipTokenizer tok = AddedTokenizers.with(sd, concept.placeholder());
      NDArray added =
          m.create(concept.embedding(), new Shape(1, concept.embedding().length))
              .toType(o.dtype(), false)
              .toDevice(o.device(), false);
      text =
          sd.textEncoder()
              .forward(tok.encode(prompts.rows(), m).toDevice(o.device(), false), added);
    } else {
      text = sd.encodePrompts(prompts.rows(), m);
    }
    return Conditioning.of(text).withUnetEdits(edits(concept, scale, m, o, this));
  }

  /**
   * The concept's UNet edits as arrays in {@code m}, LoRA terms scaled by {@code scale}; {@code
   * source} vouches that edits made with it are equal (a conditioner: one concept at one scale), so
   * its requests share UNet calls; null: these edits share with nothing else.
   */
  static WeightEdits edits(
      BaselineConcept c, float scale, NDManager m, EngineOptions o, Object source) {
    Map<String, LinearDelta> deltas = new LinkedHashMap<>();
    Map<String, NDArray> overrides = new LinkedHashMap<>();
    c.tensors()
        .forEach(
            (name, t) -> {
              if (name.startsWith(BaselineConcept.LORA_DOWN)) {
                String path = name.substring(BaselineConcept.LORA_DOWN.length());
                NDArray down = t.toArray(m).toType(o.dtype(), false).toDevice(o.device(), false);
                NDArray up =
                    c.tensors()
                        .get(BaselineConcept.LORA_UP + path)
                        .toArray(m)
                        .toType(o.dtype(), false)
                        .toDevice(o.device(), false);
                deltas.put(path, Lora.delta(down, up, scale));
              } else if (name.startsWith(BaselineConcept.UNET)) {
                overrides.put(
                    name.substring(BaselineConcept.UNET.length()),
                    t.toArray(m).toType(o.dtype(), false).toDevice(o.device(), false));
              }
            });
    return new WeightEdits(deltas, overrides, source);
  }
}
