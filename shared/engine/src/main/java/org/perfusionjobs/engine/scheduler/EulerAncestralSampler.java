package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;

/**
 * Euler ancestral sampling as diffusers' EulerAncestralDiscreteScheduler, on the k-diffusion sigma
 * scale sigma = sqrt((1 - acp) / acp): the UNet sees x / sqrt(sigma^2 + 1); each step goes down to
 * sigma_down with an Euler step and adds fresh noise of size sigma_up, where sigma_up =
 * sqrt(sigma_to^2 (sigma_from^2 - sigma_to^2) / sigma_from^2) and sigma_down = sqrt(sigma_to^2 -
 * sigma_up^2). The last target sigma is 0 (no noise).
 *
 * <p>Sigmas at the timesteps are interpolated in float64 on the float32 table and stored as
 * float32, as diffusers does with numpy; the per-step coefficients are float32.
 */
final class EulerAncestralSampler extends BaseSamplerRun {
  private final float[] sigmas; // (steps + 1), last 0
  private final float initNoiseSigma;

  EulerAncestralSampler(SchedulerConfig cfg, int steps) {
    super(SamplerKind.EULER_ANCESTRAL, cfg, timesteps(cfg, steps));
    float[] table = schedule.sigmas();
    this.sigmas = new float[steps + 1];
    float max = 0f;
    for (int i = 0; i < steps; i++) {
      sigmas[i] = (float) TorchNumerics.interp(modelTimestep(i), table);
      max = Math.max(max, sigmas[i]);
    }
    TimestepSpacing spacing = spacing(SamplerKind.EULER_ANCESTRAL, cfg);
    // diffusers: the max sigma for linspace/trailing, sqrt(max^2 + 1) for leading
    this.initNoiseSigma =
        spacing == TimestepSpacing.LEADING ? TorchNumerics.sqrt(max * max + 1f) : max;
  }

  static float[] timesteps(SchedulerConfig cfg, int steps) {
    int n = cfg.numTrainTimesteps();
    float[] ts = new float[steps];
    switch (spacing(SamplerKind.EULER_ANCESTRAL, cfg)) {
      case LINSPACE -> {
        double[] grid = TorchNumerics.linspace(0, n - 1, steps);
        for (int i = 0; i < steps; i++) {
          ts[i] = (float) grid[steps - 1 - i];
        }
      }
      case LEADING -> {
        int ratio = n / steps;
        for (int i = 0; i < steps; i++) {
          ts[i] = (float) (steps - 1 - i) * ratio + cfg.stepsOffset();
        }
      }
      case TRAILING -> {
        double[] grid = TorchNumerics.arangeDown(n, 0, -(double) n / steps);
        for (int i = 0; i < steps; i++) {
          ts[i] = (float) TorchNumerics.round(grid[i]) - 1f;
        }
      }
    }
    return ts;
  }

  /** sigma at step {@code i} (i = steps gives the final 0). */
  float sigma(int i) {
    return sigmas[i];
  }

  @Override
  public float initNoiseSigma() {
    return initNoiseSigma;
  }

  @Override
  public NDArray scaleModelInput(NDArray latents, int stepIndex) {
    checkIndex(stepIndex);
    float sigma = sigmas[stepIndex];
    return latents.div(TorchNumerics.sqrt(sigma * sigma + 1f));
  }

  @Override
  protected NDArray update(NDArray modelOutput, int i, NDArray sample, NoiseSource noise) {
    float sigma = sigmas[i];
    float sigmaTo = sigmas[i + 1];
    NDArray x0;
    if (vPrediction) {
      float sigma2p1 = sigma * sigma + 1f;
      NDArray scaledSample = sample.div(sigma2p1);
      x0 = modelOutput.mul(-sigma / TorchNumerics.sqrt(sigma2p1)).addi(scaledSample);
      scaledSample.close();
    } else {
      NDArray scaled = modelOutput.mul(sigma);
      x0 = sample.sub(scaled);
      scaled.close();
    }
    float from2 = sigma * sigma;
    float to2 = sigmaTo * sigmaTo;
    float sigmaUp = TorchNumerics.sqrt(to2 * (from2 - to2) / from2);
    float sigmaDown = TorchNumerics.sqrt(to2 - sigmaUp * sigmaUp);
    float dt = sigmaDown - sigma;

    NDArray derivative = sample.sub(x0).divi(sigma);
    NDArray prev = sample.add(derivative.muli(dt));
    derivative.close();
    // drawn at every step, the last included (sigma_up 0), so the stream lines up with diffusers'
    NDArray z = requireNoise(noise, kind).normal(sample.getShape(), sample.getManager());
    prev.addi(z.muli(sigmaUp));
    z.close();
    keepPredOriginal(x0);
    return prev;
  }
}
