package org.perfusionjobs.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * DDIM against the reference runs of sd-tiny-ref (diffusers 0.27.2). Tolerances as its README
 * suggests for latents and x0 predictions: 1e-3 absolute and 1e-5 relative to max |x|. (On the CPU
 * engine every step and the whole chain measured a difference of exactly 0.0: the float32 host
 * coefficients and the element-wise ops round as diffusers' do; other devices may differ in the
 * last bits.)
 */
class DdimSamplerTest {
  private static final float ABS_TOL = 1e-3f;
  private static final float REL_TOL = 1e-5f;

  private static void assertClose(NDArray expected, NDArray actual, String what) {
    assertEquals(expected.getShape(), actual.getShape(), what + " shape");
    float diff = ReferenceData.maxAbsDiff(actual, expected);
    float scale = ReferenceData.maxAbs(expected);
    assertTrue(
        diff <= ABS_TOL && diff <= REL_TOL * scale,
        what + ": max abs diff " + diff + " (max |x| " + scale + ")");
  }

  @Test
  void tenStepTimestepsMatchReference() throws Exception {
    try (NDManager m = NDManager.newBaseManager();
        SamplerRun run = Samplers.create(SamplerKind.DDIM, ReferenceData.tinyConfig(), 10, 0f)) {
      long[] expected = ReferenceData.reference("ddim_eta0", m).get("timesteps").toLongArray();
      assertArrayEquals(new long[] {901, 801, 701, 601, 501, 401, 301, 201, 101, 1}, expected);
      assertArrayEquals(expected, run.timesteps());
      assertEquals(1f, run.initNoiseSigma());
    }
  }

  @Test
  void eachEta0StepReproducesReference() throws Exception {
    checkEachStep("ddim_eta0", 0f);
  }

  @Test
  void eachEta1StepReproducesReferenceWithStoredNoise() throws Exception {
    checkEachStep("ddim_eta1", 1f);
  }

  /**
   * Step i from the reference latents[i] and guided prediction i gives latents[i + 1] and x0[i].
   */
  private static void checkEachStep(String file, float eta) throws Exception {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> ref = ReferenceData.reference(file, m);
      NDArray latents = ref.get("latents");
      NDArray guided = ref.get("noise_pred_guided");
      NDArray x0 = ref.get("pred_original_sample");
      NoiseSource noise = eta > 0 ? NoiseSource.replay(ref.get("variance_noise")) : null;
      for (int i = 0; i < 10; i++) {
        // a fresh run per step: each step starts from the reference, not from our previous output
        try (SamplerRun run =
                Samplers.create(SamplerKind.DDIM, ReferenceData.tinyConfig(), 10, eta);
            NDManager stepManager = m.newSubManager()) {
          NDArray sample = latents.get(i);
          sample.attach(stepManager);
          NDArray scaled = run.scaleModelInput(sample, i);
          assertSame(sample, scaled, "DDIM does not scale its input");
          NDArray prev = run.step(guided.get(i), i, sample, noise);
          assertSame(stepManager, prev.getManager(), "result lives with the latents");
          assertClose(latents.get(i + 1), prev, file + " latents[" + (i + 1) + "]");
          assertClose(
              x0.get(i), run.predOriginalSample(), file + " pred_original_sample[" + i + "]");
        }
      }
    }
  }

  @Test
  void fullEta0ChainOnStoredPredictions() throws Exception {
    checkChain("ddim_eta0", 0f);
  }

  @Test
  void fullEta1ChainOnStoredPredictionsAndNoise() throws Exception {
    checkChain("ddim_eta1", 1f);
  }

  /** Ten steps chained on our own latents, fed the stored guided predictions. */
  private static void checkChain(String file, float eta) throws Exception {
    try (NDManager m = NDManager.newBaseManager();
        SamplerRun run = Samplers.create(SamplerKind.DDIM, ReferenceData.tinyConfig(), 10, eta)) {
      Map<String, NDArray> ref = ReferenceData.reference(file, m);
      NDArray latents = ref.get("latents");
      NoiseSource noise = eta > 0 ? NoiseSource.replay(ref.get("variance_noise")) : null;
      NDArray x = latents.get(0);
      for (int i = 0; i < run.steps(); i++) {
        NDArray next = run.step(ref.get("noise_pred_guided").get(i), i, x, noise);
        assertClose(
            ref.get("pred_original_sample").get(i),
            run.predOriginalSample(),
            file + " chain x0[" + i + "]");
        x.close();
        x = next;
        assertClose(latents.get(i + 1), x, file + " chain latents[" + (i + 1) + "]");
      }
      if (eta > 0) {
        assertThrows(
            IllegalStateException.class,
            () -> noise.normal(new Shape(1, 4, 16, 16), m),
            "all 10 stored draws were used, one per step");
      }
    }
  }

  @Test
  void lastStepAlphaPrevIsAlphasCumprod0UnlessSetAlphaToOne() throws Exception {
    SchedulerConfig tiny = ReferenceData.tinyConfig();
    float acp0 = NoiseSchedule.of(tiny).alphaCumprod(0);
    try (DdimSampler off = new DdimSampler(tiny, 10, 0f);
        DdimSampler on = new DdimSampler(withAlphaToOne(tiny, true), 10, 0f)) {
      assertEquals(acp0, off.alphaCumprodPrev(9));
      assertEquals(1f, on.alphaCumprodPrev(9));
      assertEquals(NoiseSchedule.of(tiny).alphaCumprod(1), on.alphaCumprodPrev(8), "t 101 -> 1");
    }
    // with alpha_prev = 1 the last step returns x0 itself: sqrt(1) x0 + sqrt(1 - 1) eps
    try (NDManager m = NDManager.newBaseManager();
        SamplerRun on = Samplers.create(SamplerKind.DDIM, withAlphaToOne(tiny, true), 10, 0f);
        SamplerRun off = Samplers.create(SamplerKind.DDIM, tiny, 10, 0f)) {
      NDArray x = m.randomNormal(new Shape(1, 4, 4, 4));
      NDArray eps = m.randomNormal(new Shape(1, 4, 4, 4));
      NDArray last = on.step(eps, 9, x, null);
      assertEquals(0f, ReferenceData.maxAbsDiff(last, on.predOriginalSample()));
      NDArray lastOff = off.step(eps, 9, x, null);
      double a0 = acp0;
      double at = NoiseSchedule.of(tiny).alphaCumprod(1);
      float[] xs = x.toFloatArray();
      float[] es = eps.toFloatArray();
      float[] got = lastOff.toFloatArray();
      for (int i = 0; i < got.length; i++) {
        double x0 = (xs[i] - Math.sqrt(1 - at) * es[i]) / Math.sqrt(at);
        assertEquals(Math.sqrt(a0) * x0 + Math.sqrt(1 - a0) * es[i], got[i], 1e-5);
      }
    }
  }

  @Test
  void stepsOffsetAndSpacings() throws Exception {
    SchedulerConfig tiny = ReferenceData.tinyConfig();
    assertArrayEquals(
        new long[] {900, 800, 700, 600, 500, 400, 300, 200, 100, 0},
        DdimSampler.timesteps(withAlphaToOne(tiny, false, 0), 10));
    assertArrayEquals(
        new long[] {999, 888, 777, 666, 555, 444, 333, 222, 111, 0},
        DdimSampler.timesteps(tiny.withTimestepSpacing("linspace"), 10));
    assertArrayEquals(
        new long[] {999, 899, 799, 699, 599, 499, 399, 299, 199, 99},
        DdimSampler.timesteps(tiny.withTimestepSpacing("trailing"), 10));
    assertArrayEquals(
        new long[] {999, 856, 713, 570, 428, 285, 142},
        DdimSampler.timesteps(tiny.withTimestepSpacing("trailing"), 7));
    assertArrayEquals(
        new long[] {961, 921, 881},
        Arrays.copyOf(DdimSampler.timesteps(tiny, 25), 3),
        "leading with steps_offset 1, ratio 40");
  }

  @Test
  void stepsRunInOrder() throws Exception {
    try (NDManager m = NDManager.newBaseManager();
        SamplerRun run = Samplers.create(SamplerKind.DDIM, ReferenceData.tinyConfig(), 10, 0f)) {
      NDArray x = m.randomNormal(new Shape(1, 4, 2, 2));
      run.step(x, 0, x, null);
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> run.step(x, 2, x, null));
      assertTrue(e.getMessage().contains("step 2"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> run.step(x, 10, x, null));
    }
  }

  @Test
  void stochasticDdimNeedsNoise() throws Exception {
    try (NDManager m = NDManager.newBaseManager();
        SamplerRun run = Samplers.create(SamplerKind.DDIM, ReferenceData.tinyConfig(), 10, 0.5f)) {
      NDArray x = m.randomNormal(new Shape(1, 4, 2, 2));
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> run.step(x, 0, x, null));
      assertTrue(e.getMessage().contains("noise"), e.getMessage());
    }
  }

  static SchedulerConfig withAlphaToOne(SchedulerConfig c, boolean alphaToOne) {
    return withAlphaToOne(c, alphaToOne, c.stepsOffset());
  }

  static SchedulerConfig withAlphaToOne(SchedulerConfig c, boolean alphaToOne, int stepsOffset) {
    return new SchedulerConfig(
        c.className(),
        c.numTrainTimesteps(),
        c.betaStart(),
        c.betaEnd(),
        c.betaSchedule(),
        c.trainedBetas(),
        alphaToOne,
        stepsOffset,
        c.predictionType(),
        c.clipSample(),
        c.clipSampleRange(),
        c.thresholding(),
        c.timestepSpacing(),
        c.rescaleBetasZeroSnr());
  }
}
