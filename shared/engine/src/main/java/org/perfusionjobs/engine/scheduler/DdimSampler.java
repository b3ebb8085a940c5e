package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;

/**
 * DDIM (Song et al. 2020) as diffusers' DDIMScheduler: x0 from the noise prediction, then x_prev =
 * sqrt(a_prev) x0 + sqrt(1 - a_prev - s^2) eps + s z with s = eta sqrt((1 - a_prev) / (1 - a_t) (1
 * - a_t / a_prev)). eta 0 is deterministic.
 *
 * <p>The previous timestep is t - N / steps for every spacing (as diffusers); before timestep 0
 * a_prev is 1 with set_alpha_to_one, else acp[0]. Coefficients are float32 like diffusers' 0-d
 * tensors and the tensor ops keep diffusers' order, so on the CPU engine the sd-tiny-ref DDIM runs
 * (eta 0 and 1) are reproduced exactly, step by step and chained.
 */
final class DdimSampler extends BaseSamplerRun {
  private final float eta;
  private final float finalAlphaCumprod;
  private final boolean clipSample;
  private final float clipRange;
  private final int stride;

  DdimSampler(SchedulerConfig cfg, int steps, float eta) {
    super(SamplerKind.DDIM, cfg, asFloats(timesteps(cfg, steps)));
    this.eta = eta;
    boolean alphaToOne = cfg.setAlphaToOne() == null || cfg.setAlphaToOne();
    this.finalAlphaCumprod = alphaToOne ? 1f : schedule.alphaCumprod(0);
    this.clipSample = cfg.clipSample() == null || cfg.clipSample();
    this.clipRange = cfg.clipSampleRange().floatValue();
    this.stride = cfg.numTrainTimesteps() / steps;
  }

  static long[] timesteps(SchedulerConfig cfg, int steps) {
    int n = cfg.numTrainTimesteps();
    long[] ts = new long[steps];
    switch (spacing(SamplerKind.DDIM, cfg)) {
      case LINSPACE -> {
        double[] grid = TorchNumerics.linspace(0, n - 1, steps);
        for (int i = 0; i < steps; i++) {
          ts[i] = (long) TorchNumerics.round(grid[steps - 1 - i]);
        }
      }
      case LEADING -> {
        int ratio = n / steps;
        for (int i = 0; i < steps; i++) {
          ts[i] = (long) (steps - 1 - i) * ratio + cfg.stepsOffset();
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

  @Override
  public float initNoiseSigma() {
    return 1f;
  }

  /** acp of the timestep after step {@code i}: the value the last step lands on. */
  float alphaCumprodPrev(int i) {
    long prev = timestep(i) - stride;
    return prev >= 0 ? schedule.alphaCumprod((int) prev) : finalAlphaCumprod;
  }

  @Override
  protected NDArray update(NDArray modelOutput, int i, NDArray sample, NoiseSource noise) {
    int t = (int) timestep(i);
    float alphaT = schedule.alphaCumprod(t);
    float alphaPrev = alphaCumprodPrev(i);
    float betaT = 1f - alphaT;
    float sqrtAlphaT = TorchNumerics.sqrt(alphaT);
    float sqrtBetaT = TorchNumerics.sqrt(betaT);

    NDArray x0;
    NDArray predEps;
    if (vPrediction) {
      NDArray scaledOutput = modelOutput.mul(sqrtBetaT);
      x0 = sample.mul(sqrtAlphaT).subi(scaledOutput);
      scaledOutput.close();
      NDArray scaledSample = sample.mul(sqrtBetaT);
      predEps = modelOutput.mul(sqrtAlphaT).addi(scaledSample);
      scaledSample.close();
    } else {
      NDArray scaled = modelOutput.mul(sqrtBetaT);
      x0 = sample.sub(scaled).divi(sqrtAlphaT);
      scaled.close();
      predEps = modelOutput;
    }
    if (clipSample) {
      NDArray clipped = x0.clip(-clipRange, clipRange);
      x0.close();
      x0 = clipped;
    }

    float variance = ((1f - alphaPrev) / betaT) * (1f - alphaT / alphaPrev);
    float std = eta * TorchNumerics.sqrt(variance);
    float directionCoef = TorchNumerics.sqrt(1f - alphaPrev - std * std);

    NDArray direction = predEps.mul(directionCoef);
    NDArray prev = x0.mul(TorchNumerics.sqrt(alphaPrev)).addi(direction);
    direction.close();
    if (predEps != modelOutput) {
      predEps.close();
    }
    if (eta > 0) {
      NDArray z = requireNoise(noise, kind).normal(sample.getShape(), sample.getManager());
      prev.addi(z.muli(std));
      z.close();
    }
    keepPredOriginal(x0);
    return prev;
  }
}
