package org.perfusionjobs.engine.personalization;

import ai.djl.ndarray.NDManager;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * A baseline personalization method: which weights it trains and how it trains them. The loop
 * ({@link BaselineTrainer}) is shared, so every method sees the same images, masks, prompts, step
 * budget, timestep and noise sampling as Perfusion's trainer.
 */
public interface BaselineMethod {

  /** The name in concept files and on the command line, e.g. {@code lora}. */
  String name();

  /** Whether the concept word becomes a new token with a learned embedding. */
  boolean learnsEmbedding();

  /**
   * Whether it trains weights besides the embedding (at {@link BaselineConfig#learningRate}); false
   * for textual inversion, whose only tensor is the embedding.
   */
  default boolean trainsWeights() {
    return true;
  }

  /** Whether {@link BaselineConfig#rank} applies. */
  default boolean usesRank() {
    return false;
  }

  /** Whether superclass images drawn by the base model are trained on too (DreamBooth). */
  default boolean priorPreservation() {
    return false;
  }

  /**
   * The method's default learning rate of its weights (unused where {@link #trainsWeights} is
   * false).
   */
  float defaultLearningRate();

  /**
   * The weights to train, initialised, in {@code m}. The base model's own arrays must not be
   * trained in place: copy what is to change.
   *
   * @param initialEmbedding (D) the embedding the concept word starts from (the superclass's), or
   *     null when {@link #learnsEmbedding} is false
   */
  TrainableWeights init(
      StableDiffusionPipeline sd, BaselineConfig cfg, float[] initialEmbedding, NDManager m);
}
