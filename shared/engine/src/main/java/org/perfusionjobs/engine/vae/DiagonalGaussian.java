package org.perfusionjobs.engine.vae;

import ai.djl.ndarray.NDArray;

/**
 * The encoder's latent distribution: mean, log-variance (clamped to [-30, 20]) and std, each (B,
 * latent, h, w).
 */
public record DiagonalGaussian(NDArray mean, NDArray logvar, NDArray std) {

  /** mean + std * noise, with noise ~ N(0, 1) of the mean's shape. */
  public NDArray sample(NDArray noise) {
    return mean.add(std.mul(noise));
  }
}
