package org.perfusionjobs.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class SamplersTest {

  @Test
  void userNames() {
    assertEquals(SamplerKind.DDIM, SamplerKind.fromName("ddim"));
    assertEquals(SamplerKind.EULER_ANCESTRAL, SamplerKind.fromName("euler_a"));
    assertEquals(SamplerKind.DPMPP_2M, SamplerKind.fromName(" DPMPP_2M "));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> SamplerKind.fromName("plms"));
    assertEquals("unknown sampler 'plms'; valid: ddim, euler_a, dpmpp_2m", e.getMessage());
  }

  @Test
  void rejectsBadRunSettings() throws Exception {
    SchedulerConfig cfg = ReferenceData.tinyConfig();
    IllegalArgumentException steps =
        assertThrows(
            IllegalArgumentException.class, () -> Samplers.create(SamplerKind.DDIM, cfg, 0, 0f));
    assertTrue(steps.getMessage().contains("steps 0"), steps.getMessage());
    IllegalArgumentException eta =
        assertThrows(
            IllegalArgumentException.class, () -> Samplers.create("euler_a", cfg, 10, 0.5f));
    assertTrue(
        eta.getMessage().contains("eta 0.5") && eta.getMessage().contains("ddim"),
        eta.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> Samplers.create(SamplerKind.DDIM, cfg, 10, -1f));
  }

  /** The whole loop with seeded noise: same seed, same result; every sampler's result is finite. */
  @Test
  void seededRunsRepeatExactly() throws Exception {
    for (SamplerKind kind : SamplerKind.values()) {
      float[] first = run(kind, 11);
      float[] again = run(kind, 11);
      assertEquals(first.length, again.length);
      for (int i = 0; i < first.length; i++) {
        assertEquals(first[i], again[i], 0f, kind + " element " + i);
        assertTrue(Float.isFinite(first[i]), kind + " element " + i);
      }
    }
  }

  /**
   * Per-step work closes its temporaries: after a loop that closes what it made, one array is left.
   */
  @Test
  void stepsLeaveNoTemporaries() throws Exception {
    for (SamplerKind kind : SamplerKind.values()) {
      float eta = kind == SamplerKind.DDIM ? 1f : 0f;
      try (NDManager m = NDManager.newBaseManager();
          SamplerRun run = Samplers.create(kind, ReferenceData.tinyConfig(), 12, eta)) {
        NoiseSource noise = NoiseSource.seeded(3);
        NDArray x = noise.normal(new Shape(1, 4, 4, 4), m);
        for (int i = 0; i < run.steps(); i++) {
          NDArray input = run.scaleModelInput(x, i);
          NDArray eps = input.mul(0.1f);
          NDArray next = run.step(eps, i, x, noise);
          eps.close();
          if (input != x) {
            input.close();
          }
          x.close();
          x = next;
        }
        assertEquals(1, ((BaseNDManager) m).getManagedArrays().size(), kind + " arrays left");
      }
    }
  }

  private static float[] run(SamplerKind kind, long seed) throws Exception {
    float eta = kind == SamplerKind.DDIM ? 1f : 0f;
    try (NDManager m = NDManager.newBaseManager();
        SamplerRun run = Samplers.create(kind, ReferenceData.tinyConfig(), 8, eta)) {
      NoiseSource noise = NoiseSource.seeded(seed);
      NDArray x = noise.normal(new Shape(1, 4, 4, 4), m).mul(run.initNoiseSigma());
      for (int i = 0; i < run.steps(); i++) {
        NDArray input = run.scaleModelInput(x, i);
        NDArray eps = input.mul(0.1f); // any deterministic stand-in for the UNet
        x = run.step(eps, i, x, noise);
      }
      return x.toFloatArray();
    }
  }
}
