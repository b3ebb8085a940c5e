package org.perfusionjobs.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class EulerAncestralSamplerTest {

  @Test
  void sigmasAtLeadingTimestepsWithTrailingZero() throws Exception {
    SchedulerConfig tiny = ReferenceData.tinyConfig();
    float[] table = NoiseSchedule.of(tiny).sigmas();
    float[] acp = NoiseSchedule.of(tiny).alphasCumprod();
    try (EulerAncestralSampler run = new EulerAncestralSampler(tiny, 10)) {
      assertArrayEquals(
          new long[] {901, 801, 701, 601, 501, 401, 301, 201, 101, 1}, run.timesteps());
      for (int i = 0; i < 10; i++) {
        int t = (int) run.timesteps()[i];
        assertEquals(table[t], run.sigma(i), "sigma at step " + i);
        assertEquals(Math.sqrt((1 - acp[t]) / acp[t]), run.sigma(i), 1e-6 * run.sigma(i));
      }
      assertEquals(0f, run.sigma(10));
      // leading spacing: diffusers' init_noise_sigma = sqrt(max_sigma^2 + 1)
      double max = run.sigma(0);
      assertEquals(Math.sqrt(max * max + 1), run.initNoiseSigma(), 1e-6);
    }
  }

  @Test
  void linspaceGridIsFractionalAndInterpolated() throws Exception {
    SchedulerConfig cfg =
        ReferenceData.tinyConfig().withTimestepSpacing(null); // Euler's own default: linspace
    float[] table = NoiseSchedule.of(cfg).sigmas();
    try (EulerAncestralSampler run = new EulerAncestralSampler(cfg, 25)) {
      float[] ts = run.modelTimesteps();
      assertEquals(999f, ts[0]);
      assertEquals(957.375f, ts[1]);
      assertEquals(0f, ts[24]);
      assertEquals(957L, run.timesteps()[1]);
      double expected = table[957] + 0.375 * (table[958] - (double) table[957]);
      assertEquals((float) expected, run.sigma(1));
      assertEquals(
          table[999], run.initNoiseSigma(), "linspace: init_noise_sigma is the max sigma itself");
    }
  }

  @Test
  void scaleModelInputDividesBySqrtSigmaSquaredPlusOne() throws Exception {
    try (NDManager m = NDManager.newBaseManager();
        EulerAncestralSampler run = new EulerAncestralSampler(ReferenceData.tinyConfig(), 10)) {
      NDArray x = m.randomNormal(new Shape(1, 4, 3, 3));
      float s = run.sigma(3);
      NDArray scaled = run.scaleModelInput(x, 3);
      float[] xs = x.toFloatArray();
      float[] got = scaled.toFloatArray();
      for (int i = 0; i < xs.length; i++) {
        assertEquals(xs[i] / Math.sqrt(s * (double) s + 1), got[i], 1e-6);
      }
    }
  }

  /** One step against the formulas evaluated by hand in double, with a known noise draw. */
  @Test
  void singleStepMatchesHandComputation() throws Exception {
    try (NDManager m = NDManager.newBaseManager();
        EulerAncestralSampler run = new EulerAncestralSampler(ReferenceData.tinyConfig(), 10)) {
      NDArray x = m.randomNormal(0f, 5f, new Shape(1, 4, 2, 2), DataType.FLOAT32);
      NDArray eps = m.randomNormal(new Shape(1, 4, 2, 2));
      NDArray z = m.randomNormal(new Shape(1, 4, 2, 2));
      NDArray prev = run.step(eps, 0, x, NoiseSource.replay(z.expandDims(0)));
      double from = run.sigma(0);
      double to = run.sigma(1);
      double up = Math.sqrt(to * to * (from * from - to * to) / (from * from));
      double down = Math.sqrt(to * to - up * up);
      float[] xs = x.toFloatArray();
      float[] es = eps.toFloatArray();
      float[] zs = z.toFloatArray();
      float[] got = prev.toFloatArray();
      float[] x0 = run.predOriginalSample().toFloatArray();
      for (int i = 0; i < xs.length; i++) {
        double predX0 = xs[i] - from * es[i];
        double expected = xs[i] + (xs[i] - predX0) / from * (down - from) + up * zs[i];
        assertEquals(predX0, x0[i], 1e-5 * Math.abs(from * es[i]) + 1e-5);
        assertEquals(expected, got[i], 1e-4, "element " + i);
      }
    }
  }

  @Test
  void perfectDenoiserLandsOnX0() throws Exception {
    SchedulerConfig cfg = ReferenceData.tinyConfig();
    NoiseSchedule schedule = NoiseSchedule.of(cfg);
    try (NDManager m = NDManager.newBaseManager();
        SamplerRun run = Samplers.create(SamplerKind.EULER_ANCESTRAL, cfg, 20, 0f)) {
      NDArray x0 = m.randomNormal(new Shape(1, 4, 8, 8));
      PerfectDenoiser model = new PerfectDenoiser(x0, schedule);
      NoiseSource noise = NoiseSource.seeded(7);
      NDArray x = noise.normal(x0.getShape(), m).mul(run.initNoiseSigma()).add(x0);
      for (int i = 0; i < run.steps(); i++) {
        NDArray input = run.scaleModelInput(x, i);
        x = run.step(model.predict(input, run.modelTimesteps()[i]), i, x, noise);
      }
      float diff = ReferenceData.maxAbsDiff(x, x0);
      assertTrue(diff < 1e-3f, "final vs x0: " + diff);
    }
  }
}
