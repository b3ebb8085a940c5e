package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;

/**
 * What every sampler run shares: the timestep grid, step-order checks, the model-output dtype cast,
 * and the run-owned x0 prediction. Subclasses supply {@link #update}.
 *
 * <p>Dimensions: B batch, C latent channels, H/W latent size; every array here is (B, C, H, W).
 */
abstract class BaseSamplerRun implements SamplerRun {
  protected final SamplerKind kind;
  protected final NoiseSchedule schedule;
  protected final boolean vPrediction;
  private final long[] timesteps;
  private final float[] modelTimesteps;
  private NDManager state; // made at the first step, on the latents' device
  private NDArray predOriginal; // (B, C, H, W), last x0 prediction, in state
  private int nextStep = -1;
  private boolean closed;

  protected BaseSamplerRun(SamplerKind kind, SchedulerConfig cfg, float[] modelTimesteps) {
    this.kind = kind;
    this.schedule = NoiseSchedule.of(cfg);
    this.vPrediction = cfg.predictionType().equals("v_prediction");
    this.modelTimesteps = modelTimesteps;
    this.timesteps = new long[modelTimesteps.length];
    for (int i = 0; i < timesteps.length; i++) {
      timesteps[i] = Math.round(modelTimesteps[i]);
    }
  }

  /** The spacing of the config, or the diffusers default of this sampler's class. */
  protected static TimestepSpacing spacing(SamplerKind kind, SchedulerConfig cfg) {
    return cfg.timestepSpacing() == null
        ? kind.defaultSpacing()
        : TimestepSpacing.fromName(cfg.timestepSpacing());
  }

  /** Integer timesteps as the float values given to the UNet. */
  protected static float[] asFloats(long[] ts) {
    float[] out = new float[ts.length];
    for (int i = 0; i < ts.length; i++) {
      out[i] = ts[i];
    }
    return out;
  }

  @Override
  public SamplerKind kind() {
    return kind;
  }

  @Override
  public int steps() {
    return timesteps.length;
  }

  @Override
  public long[] timesteps() {
    return timesteps.clone();
  }

  protected final long timestep(int i) {
    return timesteps[i];
  }

  protected final float modelTimestep(int i) {
    return modelTimesteps[i];
  }

  @Override
  public float[] modelTimesteps() {
    return modelTimesteps.clone();
  }

  @Override
  public NDArray scaleModelInput(NDArray latents, int stepIndex) {
    checkIndex(stepIndex);
    return latents;
  }

  @Override
  public final NDArray step(
      NDArray modelOutput, int stepIndex, NDArray latents, NoiseSource noise) {
    if (closed) {
      throw new IllegalStateException("sampler run is closed");
    }
    checkIndex(stepIndex);
    if (nextStep >= 0 && stepIndex != nextStep) {
      throw new IllegalStateException(
          "step "
              + stepIndex
              + " after step "
              + (nextStep - 1)
              + ": a run's steps go in order, one at a time");
    }
    if (!modelOutput.getShape().equals(latents.getShape())) {
      throw new IllegalArgumentException(
          "model output "
              + modelOutput.getShape()
              + " does not match latents "
              + latents.getShape());
    }
    if (state == null) {
      state = NDManager.newBaseManager(latents.getDevice());
    }
    NDArray eps =
        modelOutput.getDataType() == latents.getDataType()
            ? modelOutput
            : modelOutput.toType(latents.getDataType(), false);
    try {
      NDArray prev = update(eps, stepIndex, latents, noise);
      prev.attach(latents.getManager());
      nextStep = stepIndex + 1;
      return prev;
    } finally {
      if (eps != modelOutput) {
        eps.close();
      }
    }
  }

  /**
   * The update of step {@code i}. {@code modelOutput} has the latents' dtype. Must hand its x0
   * prediction to {@link #keepPredOriginal} and close its other temporaries.
   */
  protected abstract NDArray update(NDArray modelOutput, int i, NDArray sample, NoiseSource noise);

  /** Replaces the run-owned x0 prediction (the previous one is closed). */
  protected final void keepPredOriginal(NDArray x0) {
    x0.attach(state);
    // A caller's NDScope must not free what the run keeps between steps.
    NDScope.unregister(x0);
    if (predOriginal != null) {
      predOriginal.close();
    }
    predOriginal = x0;
  }

  /** Whether this is the run's first step (DPM-Solver takes it at first order). */
  protected final boolean isFirstStepOfRun() {
    return nextStep < 0;
  }

  protected static NoiseSource requireNoise(NoiseSource noise, SamplerKind kind) {
    if (noise == null) {
      throw new IllegalArgumentException(
          kind.userName() + " is stochastic here and needs a noise source");
    }
    return noise;
  }

  @Override
  public NDArray predOriginalSample() {
    if (predOriginal == null) {
      throw new IllegalStateException("no step has run yet");
    }
    return predOriginal;
  }

  protected final void checkIndex(int stepIndex) {
    if (stepIndex < 0 || stepIndex >= timesteps.length) {
      throw new IllegalArgumentException(
          "step index " + stepIndex + " is outside [0, " + timesteps.length + ")");
    }
  }

  @Override
  public void close() {
    closed = true;
    if (state != null) {
      state.close();
      state = null;
    }
    predOriginal = null;
  }
}
