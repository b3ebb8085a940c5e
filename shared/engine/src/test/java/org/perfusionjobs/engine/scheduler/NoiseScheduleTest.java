package org.perfusionjobs.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class NoiseScheduleTest {

  /**
   * Bit for bit: the reference was computed with torch's float32 linspace (AVX2 kernel, FMA) and
   * CPU cumprod (double accumulator); a textbook start + i * step in float misses the last bit of
   * about two thirds of the values.
   */
  @Test
  void alphasCumprodEqualsReferenceExactly() throws Exception {
    NoiseSchedule schedule = NoiseSchedule.of(ReferenceData.tinyConfig());
    try (NDManager m = NDManager.newBaseManager()) {
      float[] expected =
          ReferenceData.reference("ddim_eta0", m).get("alphas_cumprod").toFloatArray();
      float[] actual = schedule.alphasCumprod();
      assertEquals(1000, actual.length);
      int mismatches = 0;
      for (int i = 0; i < expected.length; i++) {
        if (Float.floatToIntBits(actual[i]) != Float.floatToIntBits(expected[i])) {
          mismatches++;
        }
      }
      assertEquals(0, mismatches, "alphas_cumprod values differing from the reference");
    }
  }

  @Test
  void scaledLinearBetasAreSquaresOfTheRootLine() throws Exception {
    float[] betas = NoiseSchedule.of(ReferenceData.tinyConfig()).betas();
    assertEquals(0.00085f, betas[0], 1e-9f);
    assertEquals(0.012f, betas[999], 1e-9f);
    double mid = Math.pow((Math.sqrt(0.00085) + Math.sqrt(0.012)) / 2, 2);
    assertEquals(mid, (betas[499] + betas[500]) / 2.0, 1e-6);
    for (int i = 1; i < betas.length; i++) {
      assertTrue(betas[i] > betas[i - 1], "betas increase at " + i);
    }
  }

  @Test
  void linearAndCosineSchedules() {
    SchedulerConfig linear =
        new SchedulerConfig(
            null, 1000, 0.0001, 0.02, "linear", null, null, null, null, null, null, null, null,
            null);
    float[] betas = NoiseSchedule.of(linear).betas();
    assertEquals(0.0001f, betas[0], 0f);
    assertEquals(0.02f, betas[999], 1e-9f);
    assertEquals(0.0001 + 500 * (0.0199 / 999), betas[500], 1e-8);

    SchedulerConfig cosine =
        new SchedulerConfig(
            null,
            1000,
            null,
            null,
            "squaredcos_cap_v2",
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null);
    NoiseSchedule cos = NoiseSchedule.of(cosine);
    float[] acp = cos.alphasCumprod();
    double f0 = Math.pow(Math.cos(0.008 / 1.008 * Math.PI / 2), 2);
    for (int t : new int[] {0, 100, 500, 900}) {
      double expected =
          Math.pow(Math.cos(((t + 1) / 1000.0 + 0.008) / 1.008 * Math.PI / 2), 2) / f0;
      assertEquals(expected, acp[t], 2e-5, "cosine acp at " + t);
    }
    for (float b : cos.betas()) {
      assertTrue(b > 0 && b <= 0.999f, "beta " + b);
    }
  }

  @Test
  void sigmasFollowTheirDefinition() throws Exception {
    NoiseSchedule schedule = NoiseSchedule.of(ReferenceData.tinyConfig());
    float[] acp = schedule.alphasCumprod();
    float[] sigmas = schedule.sigmas();
    for (int t : new int[] {0, 1, 500, 999}) {
      assertEquals(Math.sqrt((1 - acp[t]) / acp[t]), sigmas[t], 1e-6 * sigmas[t]);
    }
    assertEquals(0.02916f, sigmas[0], 1e-4f);
    assertEquals(14.6146f, sigmas[999], 1e-3f);
  }

  @Test
  void addNoiseUsesEachRowsTimestep() throws Exception {
    NoiseSchedule schedule = NoiseSchedule.of(ReferenceData.tinyConfig());
    float[] acp = schedule.alphasCumprod();
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x0 = m.randomNormal(new Shape(2, 4, 3, 3));
      NDArray noise = m.randomNormal(new Shape(2, 4, 3, 3));
      long[] ts = {10, 900};
      NDArray noisy = schedule.addNoise(x0, noise, ts);
      assertEquals(x0.getShape(), noisy.getShape());
      float[] x = x0.toFloatArray();
      float[] n = noise.toFloatArray();
      float[] got = noisy.toFloatArray();
      for (int i = 0; i < got.length; i++) {
        int row = i / 36;
        double a = acp[(int) ts[row]];
        assertEquals(Math.sqrt(a) * x[i] + Math.sqrt(1 - a) * n[i], got[i], 1e-5, "element " + i);
      }
      NDArray sameWithDeviceTimesteps = schedule.addNoise(x0, noise, m.create(ts));
      assertEquals(0f, ReferenceData.maxAbsDiff(sameWithDeviceTimesteps, noisy));

      NDArray v = schedule.velocity(x0, noise, m.create(ts));
      float[] vs = v.toFloatArray();
      for (int i = 0; i < vs.length; i += 7) {
        double a = acp[(int) ts[i / 36]];
        assertEquals(
            Math.sqrt(a) * n[i] - Math.sqrt(1 - a) * x[i], vs[i], 1e-5, "velocity element " + i);
      }
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> schedule.addNoise(x0, noise, new long[] {1, 2, 3}));
      assertTrue(e.getMessage().contains("(3)"), e.getMessage());
      assertArrayEquals(new long[] {10, 900}, ts, "caller's timesteps untouched");
    }
  }
}
