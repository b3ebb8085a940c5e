package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * The forward-process noise schedule of a diffusion model: betas and their cumulative alpha
 * products over the N training timesteps, computed exactly as diffusers computes them in float32
 * (for Stable Diffusion's scaled_linear schedule the table equals diffusers' {@code alphas_cumprod}
 * bit for bit, see {@link TorchNumerics#linspaceFp32}).
 *
 * <p>Dimensions: N training timesteps, B batch, C/H/W latent channels and size.
 */
public final class NoiseSchedule {
  private final float[] betas; // (N)
  private final float[] alphasCumprod; // (N)
  private final float[] sqrtA; // (N) sqrt(acp), float32 as diffusers' add_noise
  private final float[] sqrtOneMinusA; // (N) sqrt(1 - acp)

  private NoiseSchedule(float[] betas) {
    this.betas = betas;
    float[] alphas = new float[betas.length];
    for (int i = 0; i < betas.length; i++) {
      alphas[i] = 1f - betas[i];
    }
    this.alphasCumprod = TorchNumerics.cumprodFp32(alphas);
    this.sqrtA = new float[betas.length];
    this.sqrtOneMinusA = new float[betas.length];
    for (int i = 0; i < betas.length; i++) {
      sqrtA[i] = TorchNumerics.sqrt(alphasCumprod[i]);
      sqrtOneMinusA[i] = TorchNumerics.sqrt(1f - alphasCumprod[i]);
    }
  }

  public static NoiseSchedule of(SchedulerConfig cfg) {
    int n = cfg.numTrainTimesteps();
    if (cfg.trainedBetas() != null) {
      float[] betas = new float[n];
      for (int i = 0; i < n; i++) {
        betas[i] = cfg.trainedBetas().get(i).floatValue();
      }
      return new NoiseSchedule(betas);
    }
    return switch (cfg.betaSchedule()) {
      case "linear" ->
          new NoiseSchedule(TorchNumerics.linspaceFp32(cfg.betaStart(), cfg.betaEnd(), n));
      case "scaled_linear" -> {
        // diffusers: linspace(beta_start ** 0.5, beta_end ** 0.5, N, float32) ** 2, the roots taken
        // in double
        float[] roots =
            TorchNumerics.linspaceFp32(Math.sqrt(cfg.betaStart()), Math.sqrt(cfg.betaEnd()), n);
        float[] betas = new float[n];
        for (int i = 0; i < n; i++) {
          betas[i] = roots[i] * roots[i];
        }
        yield new NoiseSchedule(betas);
      }
      case "squaredcos_cap_v2" -> new NoiseSchedule(cosineBetas(n));
      default ->
          throw new IllegalArgumentException(
              "beta_schedule '" + cfg.betaSchedule() + "' is not supported");
    };
  }

  /**
   * Glide's cosine schedule: betas from alpha_bar(t) = cos((t + 0.008) / 1.008 * pi / 2)^2, capped
   * at 0.999.
   */
  private static float[] cosineBetas(int n) {
    float[] betas = new float[n];
    for (int i = 0; i < n; i++) {
      double t1 = (double) i / n;
      double t2 = (double) (i + 1) / n;
      betas[i] = (float) Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), 0.999);
    }
    return betas;
  }

  private static double cosineAlphaBar(double t) {
    double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
    return c * c;
  }

  public int numTrainTimesteps() {
    return betas.length;
  }

  public float[] betas() {
    return betas.clone();
  }

  public float[] alphasCumprod() {
    return alphasCumprod.clone();
  }

  public float alphaCumprod(int timestep) {
    return alphasCumprod[timestep];
  }

  /**
   * The Karras/k-diffusion sigmas of the training grid, sqrt((1 - acp) / acp) in float32 as
   * diffusers' Euler and DPM-Solver schedulers compute them.
   */
  public float[] sigmas() {
    float[] sigmas = new float[alphasCumprod.length];
    for (int i = 0; i < sigmas.length; i++) {
      sigmas[i] = sigma(i);
    }
    return sigmas;
  }

  float sigma(int timestep) {
    float a = alphasCumprod[timestep];
    return TorchNumerics.sqrt((1f - a) / a);
  }

  /**
   * The forward process q(x_t | x_0): sqrt(acp[t]) * x0 + sqrt(1 - acp[t]) * noise, with one
   * timestep per batch row. x0 and noise are (B, ...); timesteps is an int64 (B) array on their
   * device. The result is in x0's manager.
   */
  public NDArray addNoise(NDArray x0, NDArray noise, NDArray timesteps) {
    try (NDManager scratch = x0.getManager().newSubManager()) {
      NDArray[] coef = rowCoefficients(x0, timesteps, scratch);
      NDArray scaledNoise = noise.mul(coef[1]);
      NDArray out = x0.mul(coef[0]).addi(scaledNoise);
      scaledNoise.close();
      out.attach(x0.getManager());
      return out;
    }
  }

  /** {@link #addNoise(NDArray, NDArray, NDArray)} with the timesteps given on the host. */
  public NDArray addNoise(NDArray x0, NDArray noise, long[] timesteps) {
    try (NDManager scratch = x0.getManager().newSubManager()) {
      return addNoise(x0, noise, scratch.create(timesteps));
    }
  }

  /** The v-prediction target sqrt(acp[t]) * noise - sqrt(1 - acp[t]) * x0, per batch row. */
  public NDArray velocity(NDArray x0, NDArray noise, NDArray timesteps) {
    try (NDManager scratch = x0.getManager().newSubManager()) {
      NDArray[] coef = rowCoefficients(x0, timesteps, scratch);
      NDArray scaledX0 = x0.mul(coef[1]);
      NDArray out = noise.mul(coef[0]).subi(scaledX0);
      scaledX0.close();
      out.attach(x0.getManager());
      return out;
    }
  }

  /** (sqrt(acp[t]), sqrt(1 - acp[t])) gathered per row and shaped (B, 1, ..., 1) to broadcast. */
  private NDArray[] rowCoefficients(NDArray x0, NDArray timesteps, NDManager scratch) {
    long batch = x0.getShape().get(0);
    if (timesteps.getShape().dimension() != 1 || timesteps.getShape().get(0) != batch) {
      throw new IllegalArgumentException(
          "timesteps "
              + timesteps.getShape()
              + " must be (B) = ("
              + batch
              + ") for x0 "
              + x0.getShape());
    }
    long[] dims = new long[x0.getShape().dimension()];
    Arrays.fill(dims, 1);
    dims[0] = batch;
    Shape rowShape = new Shape(dims);
    NDArray idx =
        timesteps.toType(
            DataType.INT64, true); // a copy: attaching it must not take the caller's array
    idx.attach(scratch);
    NDArray a = scratch.create(sqrtA).toDevice(x0.getDevice(), false).take(idx).reshape(rowShape);
    NDArray b =
        scratch.create(sqrtOneMinusA).toDevice(x0.getDevice(), false).take(idx).reshape(rowShape);
    a.attach(scratch);
    b.attach(scratch);
    return new NDArray[] {a.toType(x0.getDataType(), false), b.toType(x0.getDataType(), false)};
  }
}
