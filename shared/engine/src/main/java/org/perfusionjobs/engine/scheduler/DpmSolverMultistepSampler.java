package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;

/**
 * DPM-Solver++ 2M (Lu et al. 2022) as diffusers' DPMSolverMultistepScheduler with its defaults:
 * algorithm dpmsolver++, solver_order 2, midpoint solver, lower_order_final, final sigma 0.
 *
 * <p>The solver works on the data prediction x0 and the half-log-SNR lambda = log(alpha_t) -
 * log(sigma_t), with alpha_t = 1 / sqrt(sigma^2 + 1) and sigma_t = sigma alpha_t on the k-diffusion
 * sigma scale. The run's first step and the last step (landing on sigma 0, which diffusers always
 * takes at first order) are first order: x_t = (sigma_t / sigma_s) x - alpha_t (e^-h - 1) D0; the
 * others add the second-order term - 0.5 alpha_t (e^-h - 1) D1 with D1 = (m0 - m1) / r0, r0 =
 * h_prev / h. Coefficients are float32.
 */
final class DpmSolverMultistepSampler extends BaseSamplerRun {
  private final float[] sigmas; // (steps + 1), last 0

  DpmSolverMultistepSampler(SchedulerConfig cfg, int steps) {
    super(SamplerKind.DPMPP_2M, cfg, asFloats(timesteps(cfg, steps)));
    float[] table = schedule.sigmas();
    this.sigmas = new float[steps + 1];
    for (int i = 0; i < steps; i++) {
      sigmas[i] = table[(int) timestep(i)];
    }
  }

  /** diffusers' grid: steps + 1 points with the lowest dropped (linspace/leading), or trailing. */
  static long[] timesteps(SchedulerConfig cfg, int steps) {
    int n = cfg.numTrainTimesteps();
    long[] ts = new long[steps];
    switch (spacing(SamplerKind.DPMPP_2M, cfg)) {
      case LINSPACE -> {
        double[] grid = TorchNumerics.linspace(0, n - 1, steps + 1);
        for (int i = 0; i < steps; i++) {
          ts[i] = (long) TorchNumerics.round(grid[steps - i]);
        }
      }
      case LEADING -> {
        int ratio = n / (steps + 1);
        for (int i = 0; i < steps; i++) {
          ts[i] = (long) (steps - i) * ratio + cfg.stepsOffset();
        }
      }
      case TRAILING -> {
        double[] grid = TorchNumerics.arangeDown(n, 0, -(double) n / steps);
        for (int i = 0; i < steps; i++) {
          ts[i] = (long) TorchNumerics.round(grid[i]) - 1;
        }
      }
    }
    return ts;
  }

  float sigma(int i) {
    return sigmas[i];
  }

  @Override
  public float initNoiseSigma() {
    return 1f;
  }

  private static float alphaOf(float sigma) {
    return 1f / TorchNumerics.sqrt(sigma * sigma + 1f);
  }

  private static float lambdaOf(float alpha, float sigmaT) {
    return (float) Math.log(alpha) - (float) Math.log(sigmaT);
  }

  @Override
  protected NDArray update(NDArray modelOutput, int i, NDArray sample, NoiseSource noise) {
    float alphaS0 = alphaOf(sigmas[i]);
    float sigmaS0 = sigmas[i] * alphaS0;
    NDArray x0;
    if (vPrediction) {
      NDArray scaledOutput = modelOutput.mul(sigmaS0);
      x0 = sample.mul(alphaS0).subi(scaledOutput);
      scaledOutput.close();
    } else {
      NDArray scaledOutput = modelOutput.mul(sigmaS0);
      x0 = sample.sub(scaledOutput).divi(alphaS0);
      scaledOutput.close();
    }

    float alphaT = alphaOf(sigmas[i + 1]);
    float sigmaT = sigmas[i + 1] * alphaT;
    float lambdaT = lambdaOf(alphaT, sigmaT); // +inf at the final sigma 0: e^-h = 0 and x_t = D0
    float lambdaS0 = lambdaOf(alphaS0, sigmaS0);
    float h = lambdaT - lambdaS0;
    float d0Coef = alphaT * ((float) Math.exp(-h) - 1f);

    NDArray prev = sample.mul(sigmaT / sigmaS0);
    NDArray d0Term = x0.mul(d0Coef);
    prev.subi(d0Term);
    d0Term.close();
    boolean firstOrder = isFirstStepOfRun() || i == steps() - 1;
    if (!firstOrder) {
      float alphaS1 = alphaOf(sigmas[i - 1]);
      float lambdaS1 = lambdaOf(alphaS1, sigmas[i - 1] * alphaS1);
      float r0 = (lambdaS0 - lambdaS1) / h;
      NDArray d1 = x0.sub(predOriginalSample()).muli(1f / r0); // m1 = the previous step's x0
      prev.subi(d1.muli(0.5f * d0Coef));
      d1.close();
    }
    keepPredOriginal(x0);
    return prev;
  }
}
