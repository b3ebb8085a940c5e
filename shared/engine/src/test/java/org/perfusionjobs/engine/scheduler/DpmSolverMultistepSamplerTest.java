package org.perfusionjobs.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class DpmSolverMultistepSamplerTest {

  @Test
  void timestepGridsAsDiffusers() throws Exception {
    SchedulerConfig tiny = ReferenceData.tinyConfig();
    // leading with steps_offset 1 on steps + 1 points: ratio 1000 // 11 = 90
    assertArrayEquals(
        new long[] {901, 811, 721, 631, 541, 451, 361, 271, 181, 91},
        DpmSolverMultistepSampler.timesteps(tiny, 10));
    assertArrayEquals(
        new long[] {
          999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150,
          100, 50
        },
        DpmSolverMultistepSampler.timesteps(tiny.withTimestepSpacing(null), 20));
    assertArrayEquals(
        new long[] {999, 856, 713, 570, 428, 285, 142},
        DpmSolverMultistepSampler.timesteps(tiny.withTimestepSpacing("trailing"), 7));
  }

  @Test
  void perfectDenoiserLandsOnX0() throws Exception {
    for (int steps : new int[] {1, 5, 20}) {
      SchedulerConfig cfg = ReferenceData.tinyConfig();
      NoiseSchedule schedule = NoiseSchedule.of(cfg);
      try (NDManager m = NDManager.newBaseManager();
          SamplerRun run = Samplers.create(SamplerKind.DPMPP_2M, cfg, steps, 0f)) {
        NDArray x0 = m.randomNormal(new Shape(2, 4, 8, 8));
        PerfectDenoiser model = new PerfectDenoiser(x0, schedule);
        float a = schedule.alphaCumprod((int) run.timesteps()[0]);
        NDArray x =
            x0.mul((float) Math.sqrt(a))
                .add(m.randomNormal(x0.getShape()).mul((float) Math.sqrt(1 - a)));
        for (int i = 0; i < run.steps(); i++) {
          NDArray input = run.scaleModelInput(x, i);
          assertSame(x, input);
          x = run.step(model.predict(input, run.modelTimesteps()[i]), i, x, null);
        }
        float diff = ReferenceData.maxAbsDiff(x, x0);
        assertTrue(diff < 1e-4f, steps + " steps: final vs x0 " + diff);
      }
    }
  }

  /** A first-order step then a second-order step, against the formulas evaluated in double. */
  @Test
  void firstAndSecondOrderStepsMatchHandComputation() throws Exception {
    try (NDManager m = NDManager.newBaseManager();
        DpmSolverMultistepSampler run =
            new DpmSolverMultistepSampler(ReferenceData.tinyConfig(), 10)) {
      NDArray x = m.randomNormal(new Shape(1, 4, 2, 2));
      NDArray eps0 = m.randomNormal(new Shape(1, 4, 2, 2));
      NDArray eps1 = m.randomNormal(new Shape(1, 4, 2, 2));
      float[] xs = x.toFloatArray();
      float[] e0 = eps0.toFloatArray();
      float[] e1 = eps1.toFloatArray();

      NDArray x1 = run.step(eps0, 0, x, null);
      float[] got1 = x1.toFloatArray();
      double[] s = {run.sigma(0), run.sigma(1), run.sigma(2)};
      double[] alpha = new double[3];
      double[] sig = new double[3];
      double[] lambda = new double[3];
      for (int k = 0; k < 3; k++) {
        alpha[k] = 1 / Math.sqrt(s[k] * s[k] + 1);
        sig[k] = s[k] * alpha[k];
        lambda[k] = Math.log(alpha[k]) - Math.log(sig[k]);
      }
      double h1 = lambda[1] - lambda[0];
      double[] m0 = new double[xs.length];
      double[] x1Hand = new double[xs.length];
      for (int i = 0; i < xs.length; i++) {
        m0[i] = (xs[i] - sig[0] * e0[i]) / alpha[0];
        x1Hand[i] = sig[1] / sig[0] * xs[i] - alpha[1] * (Math.exp(-h1) - 1) * m0[i];
        assertEquals(x1Hand[i], got1[i], 1e-4, "first-order element " + i);
      }

      NDArray x2 = run.step(eps1, 1, x1, null);
      float[] got2 = x2.toFloatArray();
      double h2 = lambda[2] - lambda[1];
      double r0 = h1 / h2;
      for (int i = 0; i < xs.length; i++) {
        double m1 = (got1[i] - sig[1] * e1[i]) / alpha[1];
        double d1 = (m1 - m0[i]) / r0;
        double c = alpha[2] * (Math.exp(-h2) - 1);
        double expected = sig[2] / sig[1] * got1[i] - c * m1 - 0.5 * c * d1;
        assertEquals(expected, got2[i], 1e-4, "second-order element " + i);
      }
      assertEquals(1f, run.initNoiseSigma());
    }
  }
}
