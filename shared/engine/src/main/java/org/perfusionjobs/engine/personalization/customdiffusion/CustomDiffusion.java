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
   * For the K/V weights: the paper trains at 8e-5 with a batch of 8, i.e. 1e-5 per image (the
   * convention of diffusers' {@code --scale_lr}); at our default 16 images per step that rule gives
   * 1.6e-4, and we round it to 1e-4. The embedding uses {@link
   * BaselineConfig#embeddingLearningRate} (Perfusion's and textual inversion's, so that the three
   * methods move the word alike; the paper's script uses one rate for both).
   */
  @Override
  public float defaultLearningRate() {
    return 1e-4f;
  }

  @Override
  public TrainableWeights init(
      StableDiffusionPipeline sd, BaselineConfig cfg, float[] initialEmbedding, NDManager m) {
    TrainableWeights w =
        new TrainableWeights(Parameter.of("embedding", m.create(initialEmbedding)));
    for (Attention a : sd.unet().crossAttentions()) {
      w.addOverride(
          a.path() + ".to_k.weight",
          Parameter.of(a.path() + ".to_k.weight", TrainableWeights.copy(a.toK.weight.get(), m)));
      w.addOverride(
          a.path() + ".to_v.weight",
          Parameter.of(a.path() + ".to_v.weight", TrainableWeights.copy(a.toV.weight.get(), m)));
    }
    return w;
  }
}
