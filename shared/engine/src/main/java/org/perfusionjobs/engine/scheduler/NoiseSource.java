package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Where a generation's Gaussian noise comes from: the initial latent and, for stochastic samplers
 * (DDIM with eta > 0, Euler ancestral), one draw per step. A source is a stream; the same source
 * state and the same sequence of calls give the same arrays.
 */
public interface NoiseSource {

  /**
   * The next standard-normal FLOAT32 array of {@code shape}, created in {@code manager} (on its
   * device).
   */
  NDArray normal(Shape shape, NDManager manager);

  /** Seeded noise generated on the host, identical on every machine and device. */
  static NoiseSource seeded(long seed) {
    return new NoiseGenerator(seed);
  }

  /**
   * Replays stored noise: call i returns {@code stacked[i]} (stacked is (K, ...shape)). For
   * reproducing a reference run whose noise was recorded.
   */
  static NoiseSource replay(NDArray stacked) {
    return new StoredNoise(stacked);
  }
}
