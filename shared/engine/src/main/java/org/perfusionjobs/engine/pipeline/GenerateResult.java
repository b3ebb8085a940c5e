package org.perfusionjobs.engine.pipeline;

import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.List;

/**
 * The images of one request (batch order), the seed used, where the time went, and the final
 * latents (before the VAE, unscaled; flattened (batch, channels, height / f, width / f), host copy)
 * for comparisons that 8-bit images would round away.
 */
public record GenerateResult(
    List<BufferedImage> images,
    long seed,
    int width,
    int height,
    Duration textEncoding,
    Duration denoising,
    Duration decoding,
    float[] latents) {

  public Duration total() {
    return textEncoding.plus(denoising).plus(decoding);
  }
}
