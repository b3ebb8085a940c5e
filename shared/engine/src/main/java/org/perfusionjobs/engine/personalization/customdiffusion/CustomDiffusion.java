package org.perfusionjobs.engine.personalization.customdiffusion;

import ai.djl.ndarray.NDManager;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.personalization.BaselineConfig;
import org.perfusionjobs.engine.personalization.BaselineMethod;
import org.perfusionjobs.engine.personalization.TrainableWeights;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * Custom diffusion (Kumari et al. 2023): the K and V projection weights of every cross-attention
 * layer ({@code attn2.to_k.weight}, {@code attn2.to_v.weight}) and the new word's embedding train;
 * everything else stays frozen. The file holds the full trained K/V weights (they replace the base
 * model's at generation) and the embedding.
 */
public final class CustomDiffusion implements BaselineMethod {
  public static final String NAME = "custom-diffusion";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public boolean learnsEmbedding() {
    return true;
  }

  /**
   * For the K/V weights: the paper's 1e-5 scaled by its batch of 8 to our effective batch of 16
   * (as its script's {@code --scale_lr} does) is 2e-5; we use 1e-4 so that the step budget moves
   * them on the project's small models. The embedding uses {@link BaselineConfig#embeddingLearningRate}.
   */
  @Override
  public float defaultLearningRate() {
    return 1e-4f;
  }

  @Override
  public TrainableWeights init(StableDiffusionPipeline sd, BaselineConfig cfg, float[] initialEmbedding, NDManager m) {
    TrainableWeights w = new TrainableWeights(Parameter.of("embedding", m.create(initialEmbedding)));
    for (Attention a : sd.unet().crossAttentions()) {
      w.addOverride(a.path() + ".to_k.weight", Parameter.of(a.path() + ".to_k.weight", TrainableWeights.copy(a.toK.weight.get(), m)));
      w.addOverride(a.path() + ".to_v.weight", Parameter.of(a.path() + ".to_v.weight", TrainableWeights.copy(a.toV.weight.get(), m)));
    }
    return w;
  }
}
