package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;

/**
 * One sampling run: the timestep grid for a number of steps and the update rule, created per
 * generation by {@link Samplers#create}. The denoising loop is
 *
 * <pre>{@code
 * latents = noise.normal(shape, manager).mul(run.initNoiseSigma());
 * for (int i = 0; i < run.steps(); i++) {
 *   NDArray input = run.scaleModelInput(latents, i);
 *   NDArray eps = unet(input, run.modelTimesteps()[i], ...);   // after guidance
 *   latents = run.step(eps, i, latents, noise);
 * }
 * }</pre>
 *
 * <p>All per-step work stays on the latents' device; the per-step coefficients are float32 scalars
 * computed on the host, as diffusers computes them from its float32 tables. Model outputs are cast
 * to the latents' dtype (keep latents FLOAT32). Steps run in order; a run may start at a later step
 * (image-to-image) but then continues one step at a time.
 *
 * <p>Memory: {@link #step} returns a new array in the manager of {@code latents} and closes nothing
 * it was given; its temporaries are closed. The run keeps what it needs between steps (the last x0
 * prediction, DPM-Solver's previous output) in its own manager, freed by {@link #close}.
 */
public interface SamplerRun extends AutoCloseable {

  SamplerKind kind();

  /** Number of denoising steps (UNet evaluations). */
  int steps();

  /**
   * The timesteps, one per step, as integers (rounded where {@link #modelTimesteps} is fractional).
   */
  long[] timesteps();

  /**
   * The timestep values to give the UNet, one per step: the same as {@link #timesteps} except for
   * Euler-a with linspace spacing, whose grid is fractional in diffusers too.
   */
  float[] modelTimesteps();

  /** Standard deviation of the initial noise: latents start as noise times this. */
  float initNoiseSigma();

  /**
   * The UNet input for step {@code stepIndex}. Returns {@code latents} itself where the sampler
   * does not scale (DDIM, DPM-Solver), else a new array in the latents' manager (Euler-a): close
   * the result only when it is not {@code latents}.
   */
  NDArray scaleModelInput(NDArray latents, int stepIndex);

  /**
   * One update from step {@code stepIndex}'s timestep to the next. {@code noise} is drawn from only
   * by stochastic samplers (and may be null for the others).
   */
  NDArray step(NDArray modelOutput, int stepIndex, NDArray latents, NoiseSource noise);

  /**
   * The x0 prediction of the last {@link #step}; owned by the run, valid until the next step or
   * close.
   */
  NDArray predOriginalSample();

  @Override
  void close();
}
