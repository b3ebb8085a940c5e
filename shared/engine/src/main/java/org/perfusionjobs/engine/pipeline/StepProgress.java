package org.perfusionjobs.engine.pipeline;

import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * What a generation reports after each denoising step. {@code preview} decodes the current latents
 * x_t through the VAE as they are (noisy in early steps; not the predicted clean image); it costs a
 * VAE pass, so call it only when a preview is wanted, and only inside the callback (the latents are
 * freed afterwards).
 */
public record StepProgress(
    int step, int total, long timestep, Duration elapsed, Supplier<List<BufferedImage>> preview) {

  /** Estimated time left, from the mean step time so far. */
  public Duration eta() {
    if (step == 0) {
      return Duration.ZERO;
    }
    return elapsed.dividedBy(step).multipliedBy(total - step);
  }
}
