package org.perfusionjobs.engine.scheduler;

/** Creates sampler runs: one per generation. */
public final class Samplers {
  private Samplers() {}

  /**
   * A run of {@code steps} steps of {@code kind} on the noise schedule and timestep settings of
   * {@code cfg}. {@code eta} is DDIM's noise weight (0 deterministic, 1 DDPM-like) and must be 0
   * for the other samplers.
   */
  public static SamplerRun create(SamplerKind kind, SchedulerConfig cfg, int steps, float eta) {
    if (steps < 1 || steps > cfg.numTrainTimesteps()) {
      throw new IllegalArgumentException(
          "steps "
              + steps
              + " must be in [1, num_train_timesteps "
              + cfg.numTrainTimesteps()
              + "]");
    }
    if (!(eta >= 0 && Float.isFinite(eta))) {
      throw new IllegalArgumentException("eta " + eta + " must be a finite value >= 0");
    }
    if (eta != 0 && kind != SamplerKind.DDIM) {
      throw new IllegalArgumentException(
          "eta " + eta + " applies to ddim only; " + kind.userName() + " takes eta 0");
    }
    return switch (kind) {
      case DDIM -> new DdimSampler(cfg, steps, eta);
      case EULER_ANCESTRAL -> new EulerAncestralSampler(cfg, steps);
      case DPMPP_2M -> new DpmSolverMultistepSampler(cfg, steps);
    };
  }

  /**
   * {@link #create(SamplerKind, SchedulerConfig, int, float)} with the sampler given by its user
   * name.
   */
  public static SamplerRun create(String samplerName, SchedulerConfig cfg, int steps, float eta) {
    return create(SamplerKind.fromName(samplerName), cfg, steps, eta);
  }
}
