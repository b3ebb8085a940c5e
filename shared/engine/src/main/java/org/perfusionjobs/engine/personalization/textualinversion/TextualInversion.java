package org.perfusionjobs.engine.personalization.textualinversion;

import ai.djl.ndarray.NDManager;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.personalization.BaselineConfig;
import org.perfusionjobs.engine.personalization.BaselineMethod;
import org.perfusionjobs.engine.personalization.TrainableWeights;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * Textual inversion (Gal et al. 2022): the concept word becomes one new token and only its input
 * embedding trains, starting from the superclass's; text encoder, UNet and VAE stay frozen. The
 * file holds one D-wide vector.
 */
public final class TextualInversion implements BaselineMethod {
  public static final String NAME = "textual-inversion";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public boolean learnsEmbedding() {
    return true;
  }

  @Override
  public boolean trainsWeights() {
    return false;
  }

  /**
   * Unused: the embedding trains at {@link BaselineConfig#embeddingLearningRate} (Perfusion's 0.006
   * by default, so that both methods move the word alike; diffusers' example run: 5e-4 x its 4
   * images per step = 2e-3, with {@code --scale_lr}).
   */
  @Override
  public float defaultLearningRate() {
    return 0.006f;
  }

  @Override
  public TrainableWeights init(
      StableDiffusionPipeline sd, BaselineConfig cfg, float[] initialEmbedding, NDManager m) {
    return new TrainableWeights(Parameter.of("embedding", m.create(initialEmbedding)));
  }
}
