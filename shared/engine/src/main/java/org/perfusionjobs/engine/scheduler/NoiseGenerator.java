package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Reproducible N(0, 1) noise made on the host, so a seed gives the same image on any machine and
 * any device (device RNGs differ between CPU and CUDA and between library versions).
 *
 * <p>Uniforms come from xoshiro256** seeded through SplitMix64 (both fully specified, unlike {@code
 * java.util.Random} subclasses whose algorithms the JDK may change); normals from the Box-Muller
 * transform with {@link StrictMath}, whose results are the same on every JVM. Each call uses ceil(n
 * / 2) uniform pairs; an odd count drops the last pair's second value, so a call's output depends
 * only on the seed and the sizes of the calls before it.
 */
public final class NoiseGenerator implements NoiseSource {
  private static final double TWO_PI = 2 * Math.PI;
  private static final double UNIT = 0x1.0p-53;

  private long s0;
  private long s1;
  private long s2;
  private long s3;

  public NoiseGenerator(long seed) {
    long x = seed;
    x += 0x9E3779B97F4A7C15L;
    s0 = splitMix(x);
    x += 0x9E3779B97F4A7C15L;
    s1 = splitMix(x);
    x += 0x9E3779B97F4A7C15L;
    s2 = splitMix(x);
    x += 0x9E3779B97F4A7C15L;
    s3 = splitMix(x);
  }

  private static long splitMix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** xoshiro256** next 64 bits. */
  private long nextLong() {
    long result = Long.rotateLeft(s1 * 5, 7) * 9;
    long t = s1 << 17;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = Long.rotateLeft(s3, 45);
    return result;
  }

  /** The next {@code n} standard-normal values. */
  public float[] nextGaussians(int n) {
    float[] out = new float[n];
    for (int i = 0; i < n; i += 2) {
      double u1 = ((nextLong() >>> 11) + 1) * UNIT; // (0, 1]: log stays finite
      double u2 = (nextLong() >>> 11) * UNIT; // [0, 1)
      double r = StrictMath.sqrt(-2 * StrictMath.log(u1));
      double theta = TWO_PI * u2;
      out[i] = (float) (r * StrictMath.cos(theta));
      if (i + 1 < n) {
        out[i + 1] = (float) (r * StrictMath.sin(theta));
      }
    }
    return out;
  }

  @Override
  public NDArray normal(Shape shape, NDManager manager) {
    long size = shape.size();
    if (size > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("noise shape " + shape + " has more than 2^31 elements");
    }
    return manager.create(nextGaussians((int) size), shape);
  }
}
