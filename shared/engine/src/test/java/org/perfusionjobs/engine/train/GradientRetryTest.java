package org.perfusionjobs.engine.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.nn.GroupNorm;
import org.perfusionjobs.engine.nn.Parameter;

/**
 * A step whose backward pass leaves a non-finite gradient is run again, and only the finite pass's
 * gradient reaches the optimiser. The loss is sum(w * c), whose gradient is c exactly; a pass
 * "fails" by using a c that holds a NaN.
 */
class GradientRetryTest {
  private static final float[] C = {0.5f, -2f, 3f, 0.25f};

  /** A named (4) parameter holding 1, 2, 3, 4 (a GroupNorm's weight, used only as that). */
  private static Parameter weights(NDManager m) {
    GroupNorm holder = new GroupNorm(1, 4, 1e-5f);
    holder.weight.set(m.create(new float[] {1f, 2f, 3f, 4f}));
    return holder.weight;
  }

  /** Runs passes that fail {@code failures} times, then succeed; returns the passes run. */
  private static int run(int failures, NDManager m, AdamW adam, Parameter w) {
    AtomicInteger passes = new AtomicInteger();
    float r =
        GradientRetry.untilFinite(
            7,
            adam,
            () -> {
              int n = passes.incrementAndGet();
              float[] c = C.clone();
              if (n <= failures) {
                c[2] = Float.NaN;
              }
              try (GradientCollector gc = Engine.getInstance().newGradientCollector();
                  NDArray ca = m.create(c)) {
                NDArray loss = w.get().mul(ca).sum();
                gc.backward(loss);
                return loss.getFloat();
              }
            });
    assertEquals(1f * 0.5f - 4f + 9f + 1f, r, 1e-6f, "the finite pass's value is returned");
    return passes.get();
  }

  @Test
  void aFiniteFirstPassRunsOnceAndAFailedOneIsRunAgainWithItsGradientDropped() {
    try (NDManager m = NDManager.newBaseManager()) {
      Parameter w = weights(m);
      try (AdamW adam = new AdamW(List.of(w), 0.1f, 0f)) {
        assertEquals(1, run(0, m, adam, w));
        assertTrue(adam.gradientsFinite());
        adam.discardGradients();
        // Two failed passes, then a good one: the good pass's gradient alone, c, not c added to
        // the NaN passes' (discarded) gradients.
        assertEquals(3, run(2, m, adam, w));
        assertTrue(adam.gradientsFinite());
        assertArrayEquals(C, w.get().getGradient().toFloatArray(), 0f);
        assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, w.get().toFloatArray(), 0f);
      }
    }
  }

  /**
   * A step that fails eight passes in a row (a 400-step Perfusion training here, 2026-12-07, ended
   * at step 149 with the old budget of 8) still trains: the budget is larger than that run.
   */
  @Test
  void eightFailedPassesInARowAreRetriedThrough() {
    assertTrue(GradientRetry.ATTEMPTS > 9, "budget " + GradientRetry.ATTEMPTS);
    try (NDManager m = NDManager.newBaseManager()) {
      Parameter w = weights(m);
      try (AdamW adam = new AdamW(List.of(w), 0.1f, 0f)) {
        assertEquals(9, run(8, m, adam, w));
        assertArrayEquals(C, w.get().getGradient().toFloatArray(), 0f);
      }
    }
  }

  @Test
  void aNonFiniteLossEndsTheRunNamingTheRunStepAndValue() {
    GradientRetry.requireFiniteLoss("VAE training", 3, 0.25f); // finite: nothing happens
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class,
              () -> GradientRetry.requireFiniteLoss("VAE training", 25, bad));
      assertEquals(
          "VAE training diverged at step 25: loss is " + bad + "; lower the learning rate",
          e.getMessage());
    }
  }

  @Test
  void aStepThatFailsEveryPassEndsTheRunNamingTheStep() {
    try (NDManager m = NDManager.newBaseManager()) {
      Parameter w = weights(m);
      try (AdamW adam = new AdamW(List.of(w), 0.1f, 0f)) {
        IllegalStateException e =
            assertThrows(
                IllegalStateException.class, () -> run(GradientRetry.ATTEMPTS, m, adam, w));
        assertTrue(e.getMessage().contains("step 7"), e.getMessage());
        assertTrue(
            e.getMessage().contains("not finite in " + GradientRetry.ATTEMPTS + " passes"),
            e.getMessage());
        // The failed gradient is gone: the next pass starts from nothing.
        assertTrue(adam.gradientsFinite());
        assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, w.get().toFloatArray(), 0f);
      }
    }
  }
}
