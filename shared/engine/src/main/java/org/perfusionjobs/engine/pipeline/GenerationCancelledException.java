package org.perfusionjobs.engine.pipeline;

/** Thrown between denoising steps when the request's cancellation check says so. */
public class GenerationCancelledException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int completedSteps;

  public GenerationCancelledException(int completedSteps) {
    super("generation cancelled after " + completedSteps + " steps");
    this.completedSteps = completedSteps;
  }

  public int completedSteps() {
    return completedSteps;
  }
}
