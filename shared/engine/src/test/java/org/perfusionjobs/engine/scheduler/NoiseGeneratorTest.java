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
   * these values pin the algorithm. Where they come from: {@link
   * #streamFollowsThePublishedAlgorithms}.
   */
  @Test
  void streamIsPinned() {
    float[] z = new NoiseGenerator(0).nextGaussians(4);
    assertArrayEquals(PINNED_SEED0, z);
  }

  /**
   * The generator against reference versions written here from the published algorithms: SplitMix64
   * (Steele, Lea, Flood 2014; Vigna's splitmix64.c) seeds xoshiro256** (Blackman and Vigna 2018,
   * xoshiro256starstar.c), whose 53-bit uniforms feed the Box-Muller transform. Each reference
   * first reproduces its published test vectors, so a mistake copied into both versions would still
   * fail here. Box-Muller uses StrictMath in both, so the values must match exactly.
   */
  @Test
  void streamFollowsThePublishedAlgorithms() {
    // Rosetta Code "Pseudo-random numbers/Splitmix64", seed 1234567.
    String[] splitMix = {
      "6457827717110365317",
      "3203168211198807973",
      "9817491932198370423",
      "4593380528125082431",
      "16408922859458223821"
    };
    SplitMix64 sm = new SplitMix64(1234567);
    for (String expected : splitMix) {
      assertEquals(expected, Long.toUnsignedString(sm.next()));
    }
    // The reference xoshiro256starstar.c from state {1, 2, 3, 4} (as in Rust's rand_xoshiro tests).
    String[] xoshiro = {
      "11520",
      "0",
      "1509978240",
      "1215971899390074240",
      "1216172134540287360",
      "607988272756665600",
      "16172922978634559625",
      "8476171486693032832",
      "10595114339597558777",
      "2904607092377533576"
    };
    Xoshiro256StarStar x = new Xoshiro256StarStar(new long[] {1, 2, 3, 4});
    for (String expected : xoshiro) {
      assertEquals(expected, Long.toUnsignedString(x.next()));
    }
    for (long seed : new long[] {0, 1, 42, -7, Long.MAX_VALUE}) {
      SplitMix64 seeder = new SplitMix64(seed);
      Xoshiro256StarStar rng =
          new Xoshiro256StarStar(
              new long[] {seeder.next(), seeder.next(), seeder.next(), seeder.next()});
      int n = 7; // odd: the last pair's sine is dropped
      float[] expected = new float[n];
      for (int i = 0; i < n; i += 2) {
        double u1 = Math.scalb((double) ((rng.next() >>> 11) + 1), -53); // (0, 1]
        double u2 = Math.scalb((double) (rng.next() >>> 11), -53); // [0, 1)
        double r = StrictMath.sqrt(-2 * StrictMath.log(u1));
        expected[i] = (float) (r * StrictMath.cos(2 * Math.PI * u2));
        if (i + 1 < n) {
          expected[i + 1] = (float) (r * StrictMath.sin(2 * Math.PI * u2));
        }
      }
      assertArrayEquals(expected, new NoiseGenerator(seed).nextGaussians(n), "seed " + seed);
    }
  }

  /** SplitMix64 as published: state += golden gamma, then the variant-13 mix. */
  private static final class SplitMix64 {
    private long state;

    SplitMix64(long seed) {
      state = seed;
    }

    long next() {
      state += 0x9e3779b97f4a7c15L;
      long z = state;
      z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
      z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
      return z ^ (z >>> 31);
    }
  }

  /** xoshiro256** as published, on a state array like the C reference. */
  private static final class Xoshiro256StarStar {
    private final long[] s;

    Xoshiro256StarStar(long[] state) {
      s = state.clone();
    }

    private static long rotl(long x, int k) {
      return (x << k) | (x >>> (64 - k));
    }

    long next() {
      long result = rotl(s[1] * 5, 7) * 9;
      long t = s[1] << 17;
      s[2] ^= s[0];
      s[3] ^= s[1];
      s[1] ^= s[2];
      s[0] ^= s[3];
      s[2] ^= t;
      s[3] = rotl(s[3], 45);
      return result;
    }
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
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> replay.normal(new Shape(1, 2, 2), m));
      assertTrue(e.getMessage().contains("3"), e.getMessage());
      assertThrows(
          IllegalArgumentException.class,
          () -> NoiseSource.replay(stored).normal(new Shape(2, 2), m));
    }
  }
}
