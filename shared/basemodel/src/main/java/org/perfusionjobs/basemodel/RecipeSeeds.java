package org.perfusionjobs.basemodel;

/**
 * Every random stream of a base-model build, derived from the settings' one seed. Distinct
 * derivations keep the streams apart; the constants are those of the shipped revisions, so changing
 * one changes the model that {@code perfusion train-base} reproduces.
 */
final class RecipeSeeds {
  private RecipeSeeds() {}

  /** The world scenes the VAE and the UNet train on. */
  static long trainingScenes(long seed) {
    return seed;
  }

  /** The VAE trainer's own stream (posterior samples). */
  static long vaeTrainer(long seed) {
    return seed;
  }

  static long vaeInit(long seed) {
    return seed * 7 + 1;
  }

  static long textEncoderInit(long seed) {
    return seed * 7 + 3;
  }

  static long unetInit(long seed) {
    return seed * 7 + 4;
  }

  /** Which training images each VAE step draws. */
  static long vaeBatches(long seed) {
    return seed * 13 + 2;
  }

  /** Which training images each UNet step draws. */
  static long unetBatches(long seed) {
    return seed * 13 + 5;
  }

  /**
   * Noise, timesteps and caption dropout of UNet step {@code step}: one stream per step, so a step
   * is reproducible alone.
   */
  static long unetStep(long seed, int step) {
    return seed * 1_000_003L + step;
  }

  /** The captions of text encoder pre-training. */
  static long textPretraining(long seed) {
    return seed + 77;
  }

  /**
   * The captions of the Perfusion covariance: far from the training scenes' seed, so they are fresh
   * captions.
   */
  static long covarianceCaptions(long seed) {
    return seed + 1_000_000L;
  }
}
