package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;

/**
 * A model whose noise prediction is exact for a known x0: with latents x = sqrt(acp) x0 + sqrt(1 -
 * acp) n (DDIM, DPM-Solver) or, scaled by sqrt(sigma^2 + 1), x = x0 + sigma n (Euler), eps = (x -
 * sqrt(acp_t) x0) / sqrt(1 - acp_t) evaluated on the UNet input. Every sampler must land on x0.
 */
final class PerfectDenoiser {
  private final NDArray x0;
  private final NoiseSchedule schedule;

  PerfectDenoiser(NDArray x0, NoiseSchedule schedule) {
    this.x0 = x0;
    this.schedule = schedule;
  }

  /** eps for the UNet input at a (possibly fractional) timestep, acp interpolated via sigma. */
  NDArray predict(NDArray modelInput, float timestep) {
    double sigma = interpolatedSigma(timestep);
    double alpha = 1 / Math.sqrt(sigma * sigma + 1);
    double beta = sigma * alpha;
    return modelInput.sub(x0.mul((float) alpha)).div((float) beta);
  }

  private double interpolatedSigma(float t) {
    float[] sigmas = schedule.sigmas();
    int lo = (int) Math.floor(t);
    if (lo == t || lo + 1 >= sigmas.length) {
      return sigmas[lo];
    }
    return sigmas[lo] + (t - lo) * (sigmas[lo + 1] - (double) sigmas[lo]);
  }
}
