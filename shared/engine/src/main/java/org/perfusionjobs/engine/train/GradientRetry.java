package org.perfusionjobs.engine.train;

import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a trainer does when a backward pass returns a non-finite gradient for a finite loss: the
 * step's forward and backward passes run again on the same batch (same noise, same timesteps), up
 * to {@link #ATTEMPTS} times, and only a step that fails every time ends the run. On one machine
 * here (AMD EPYC, AVX-512, libtorch 2.7.1 CPU) the Perfusion trainer's backward pass did this in
 * about one run of 60 steps in two, at a different step each run and sometimes for several passes
 * of the same step in a row; the pass that follows gives the gradient the other machines compute
 * (the loss curve is the same, value for value), so a retried run trains the same concept. The
 * cause is not found (docs/decisions.md 43).
 */
public final class GradientRetry {
  /**
   * Passes per step before the run fails: most failures last one pass, but runs of 5 passes and one
   * of 8 or more were seen (decision 43), and a pass costs well under a second.
   */
  public static final int ATTEMPTS = 32;

  private static final Logger LOG = LoggerFactory.getLogger(GradientRetry.class);

  private GradientRetry() {}

  /**
   * Ends a run whose loss is not finite: a diverged loss is not retried (retries are for the
   * gradient), and the message names the run, the step (1-based) and the value.
   */
  public static void requireFiniteLoss(String run, int step, float loss) {
    if (!Float.isFinite(loss)) {
      throw new IllegalStateException(
          run + " diverged at step " + step + ": loss is " + loss + "; lower the learning rate");
    }
  }

  /**
   * Runs {@code pass} (a step's forward and backward passes, which leave their gradients in {@code
   * adam}'s parameters) until the gradients are finite, and returns what the last run returned.
   *
   * @param step the step's number, for the log and the error
   * @throws IllegalStateException when {@link #ATTEMPTS} runs all leave a non-finite gradient (the
   *     gradients are discarded)
   */
  public static <T> T untilFinite(int step, AdamW adam, Supplier<T> pass) {
    for (int attempt = 1; ; attempt++) {
      T result = pass.get();
      if (adam.gradientsFinite()) {
        return result;
      }
      adam.discardGradients();
      if (attempt >= ATTEMPTS) {
        throw new IllegalStateException(
            "training failed at step "
                + step
                + ": the gradient is not finite in "
                + ATTEMPTS
                + " passes of the same batch, each with a finite loss; run it again, and lower"
                + " the learning rates if it fails at the same step again");
      }
      LOG.warn(
          "step {}: the backward pass returned a non-finite gradient for a finite loss; running"
              + " the step again ({} of {})",
          step,
          attempt + 1,
          ATTEMPTS);
    }
  }
}
