package org.perfusionjobs.basemodel;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.util.List;
import org.perfusionjobs.world.Sample;

/**
 * Per-pixel loss weights from the world's exact object masks: 1 on the background, {@code w} where
 * a mask is fully on (soft in between). Objects are a few percent of the pixels, yet their outlines
 * are what tells a star from a blob; the weights let a loss see them.
 */
public final class ObjectWeights {
  private ObjectWeights() {}

  /**
   * Object coverage of each pixel, in [0, 1]: the sum of the sample's masks, clipped. (side * side)
   * per sample, row-major.
   */
  public static float[] coverage(Sample sample) {
    int w = sample.image().getWidth();
    int h = sample.image().getHeight();
    float[] out = new float[w * h];
    for (BufferedImage mask : sample.masks()) {
      Raster r = mask.getRaster();
      for (int p = 0; p < out.length; p++) {
        out[p] += r.getSample(p % w, p / w, 0) / 255f;
      }
    }
    for (int p = 0; p < out.length; p++) {
      out[p] = Math.min(1, out[p]);
    }
    return out;
  }

  /**
   * Weights (N, 1, side / factor, side / factor) for square samples: coverage averaged over factor
   * x factor blocks (factor 1: image pixels; the VAE's spatial factor: latent pixels), then 1 + (w
   * - 1) * coverage.
   */
  public static NDArray of(List<Sample> samples, float w, int factor, NDManager m) {
    if (!(w >= 1) || factor < 1) {
      throw new IllegalArgumentException(
          "object weight " + w + " must be >= 1 and factor " + factor + " >= 1");
    }
    int side = samples.isEmpty() ? 0 : samples.get(0).image().getWidth();
    if (side % factor != 0) {
      throw new IllegalArgumentException(
          "image side " + side + " is not a multiple of factor " + factor);
    }
    int out = side / factor;
    float[] all = new float[samples.size() * out * out];
    float area = factor * factor;
    for (int i = 0; i < samples.size(); i++) {
      float[] c = coverage(samples.get(i));
      int base = i * out * out;
      for (int y = 0; y < side; y++) {
        for (int x = 0; x < side; x++) {
          all[base + (y / factor) * out + x / factor] += c[y * side + x] / area;
        }
      }
      for (int p = 0; p < out * out; p++) {
        all[base + p] = 1 + (w - 1) * all[base + p];
      }
    }
    return m.create(all, new Shape(samples.size(), 1, out, out));
  }
}
