package org.perfusionjobs.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class NoiseGeneratorTest {

  @Test
  void sameSeedSameNumbersDifferentSeedDifferent() {
    float[] a = new NoiseGenerator(42).nextGaussians(1001);
    float[] b = new NoiseGenerator(42).nextGaussians(1001);
    float[] c = new NoiseGenerator(43).nextGaussians(1001);
    assertArrayEquals(a, b);
    assertFalse(Arrays.equals(a, c));
    int equal = 0;
    for (int i = 0; i < a.length; i++) {
      equal += a[i] == c[i] ? 1 : 0;
    }
    assertEquals(0, equal, "seeds 42 and 43 share values");
  }

  /**
   * The stream is part of the reproducibility contract (same seed, same image on every machine):
   * these values pin the algorithm (xoshiro256** via SplitMix64, Box-Muller with StrictMath). They
   * were cross-checked against an independent Python implementation of the same algorithm.
   */
  @Test
  void streamIsPinned() {
    float[] z = new NoiseGenerator(0).nextGaussians(4);
    assertArrayEquals(PINNED_SEED0, z);
  }

  private static final float[] PINNED_SEED0 = {-0.014106797f, -1.0085865f, -1.845895f, 1.0669283f};

  /**
   * Over 1e6 samples the standard error of the mean is 0.001 and of the standard deviation 0.0007;
   * the bounds are about 5 standard errors.
   */
  @Test
  void momentsOfAMillionSamples() {
    float[] z = new NoiseGenerator(123).nextGaussians(1_000_000);
    double sum = 0;
    double sumSq = 0;
    int within1 = 0;
    for (float v : z) {
      sum += v;
      sumSq += v * (double) v;
      within1 += Math.abs(v) < 1 ? 1 : 0;
      assertTrue(Float.isFinite(v));
    }
    double mean = sum / z.length;
    double std = Math.sqrt(sumSq / z.length - mean * mean);
    assertEquals(0, mean, 0.005, "mean");
    assertEquals(1, std, 0.004, "std");
    assertEquals(0.6827, within1 / (double) z.length, 0.003, "P(|z| < 1)");
  }

  @Test
  void normalArraysContinueTheStream() {
    try (NDManager m = NDManager.newBaseManager()) {
      NoiseSource source = NoiseSource.seeded(5);
      NDArray first = source.normal(new Shape(1, 4, 3, 3), m);
      NDArray second = source.normal(new Shape(1, 4, 3, 3), m);
      NoiseGenerator host = new NoiseGenerator(5);
      assertArrayEquals(host.nextGaussians(36), first.toFloatArray());
      assertArrayEquals(host.nextGaussians(36), second.toFloatArray());
      assertEquals(new Shape(1, 4, 3, 3), first.getShape());
      assertEquals(m.getDevice(), first.getDevice());
    }
  }

  @Test
  void replayReturnsStoredSlicesInOrderThenFails() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray stored = m.arange(12f).reshape(3, 1, 2, 2);
      NoiseSource replay = NoiseSource.replay(stored);
      for (int i = 0; i < 3; i++) {
        NDArray z = replay.normal(new Shape(1, 2, 2), m);
        assertArrayEquals(new float[] {4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3}, z.toFloatArray());
      }
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> replay.normal(new Shape(1, 2, 2), m));
      assertTrue(e.getMessage().contains("3"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> NoiseSource.replay(stored).normal(new Shape(2, 2), m));
    }
  }
}
