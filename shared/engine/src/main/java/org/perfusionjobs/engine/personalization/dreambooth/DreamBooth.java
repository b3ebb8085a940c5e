package org.perfusionjobs.engine.personalization.dreambooth;

import ai.djl.ndarray.NDManager;
import java.util.Map;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.personalization.BaselineConfig;
import org.perfusionjobs.engine.personalization.BaselineMethod;
import org.perfusionjobs.engine.personalization.TrainableWeights;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * DreamBooth (Ruiz et al. 2023): every UNet weight trains (on copies; the pipeline's own stay as
 * they are), with prior preservation: superclass images the base model draws at the start are
 * trained on beside the concept's, with superclass prompts, at loss weight 1. Text encoder and VAE
 * stay frozen; the concept word is used as the base tokenizer splits it (the paper's rare
 * identifier). The file holds the whole fine-tuned UNet, which replaces the base model's at
 * generation.
 */
public final class DreamBooth implements BaselineMethod {
  public static final String NAME = "dreambooth";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public boolean learnsEmbedding() {
    return false;
  }

  @Override
  public boolean priorPreservation() {
    return true;
  }

  /** diffusers' DreamBooth default. */
  @Override
  public float defaultLearningRate() {
    return 5e-6f;
  }

  @Override
  public TrainableWeights init(
      StableDiffusionPipeline sd, BaselineConfig cfg, float[] initialEmbedding, NDManager m) {
    TrainableWeights w = new TrainableWeights(null);
    for (Map.Entry<String, Parameter> e : sd.unet().namedParameters().entrySet()) {
      w.addOverride(
          e.getKey(), Parameter.of(e.getKey(), TrainableWeights.copy(e.getValue().get(), m)));
    }
    return w;
  }
}
