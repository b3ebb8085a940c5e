package org.perfusionjobs.engine.train;

/** Learning-rate schedules shared by the project's trainers. */
public final class LearningRateSchedule {
  private LearningRateSchedule() {}

  /**
   * The rate of 0-based step {@code step} of {@code steps}: linear warm-up over {@code warmup}
   * steps (none when 0), then cosine decay from {@code peak} to a tenth of it at the last step.
   */
  public static float warmupCosine(float peak, int step, int steps, int warmup) {
    if (step < warmup) {
      return peak * (step + 1) / warmup;
    }
    double progress = (step - warmup) / (double) Math.max(1, steps - warmup);
    return (float) (peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)))));
  }
}
