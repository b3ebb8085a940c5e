package org.perfusionjobs.engine.pipeline;

import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.List;

/** The images of one request (batch order), the seed used, and where the time went. */
public record GenerateResult(List<BufferedImage> images, long seed, int width, int height, Duration textEncoding, Duration denoising, Duration decoding) {

  public Duration total() {
    return textEncoding.plus(denoising).plus(decoding);
  }
}
