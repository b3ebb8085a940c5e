package org.perfusionjobs.world;

import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Draws scenes at 64x64. Coverage is computed here by supersampling the unit outlines rather than
 * by Java2D's anti-aliasing, so that the masks are exactly the coverage used to blend each object
 * over the backdrop, and the pixels do not depend on the JDK's rasteriser.
 */
public final class WorldRenderer {
  public static final int SIZE = 64;

  /** One cell of the 3x3 position grid, in pixels. */
  static final double CELL = SIZE / 3.0;

  /**
   * Kept free on each side of an object inside its cell: objects in neighbouring cells stay at
   * least one pixel apart, so no pixel is covered by both masks.
   */
  static final double MARGIN = 0.5;

  /** The most an object's centre moves from its cell's centre, in pixels. */
  static final double MAX_JITTER = 3;

  private static final int SUBSAMPLES = 8; // per axis: 65 coverage levels

  /**
   * Renders {@code scene}, moving each object within its cell by a jitter drawn from {@code rng}.
   */
  public Rendering render(Scene scene, SplittableRandom rng) {
    int bg = scene.background().rgb();
    double[][] rgb = new double[3][SIZE * SIZE];
    for (int c = 0; c < 3; c++) {
      Arrays.fill(rgb[c], channel(bg, c));
    }
    List<BufferedImage> masks = new ArrayList<>();
    for (SceneObject object : scene.objects()) {
      double[][] coverage =
          coverage(object, rng); // [own colour, pattern's second colour], disjoint subsamples
      double[] own = coverage[0];
      double[] stripe = coverage[1];
      for (int c = 0; c < 3; c++) {
        double value = channel(object.colour().rgb(), c);
        double white = channel(Pattern.SECOND_RGB, c);
        for (int i = 0; i < own.length; i++) {
          rgb[c][i] =
              stripe[i] == 0
                  ? rgb[c][i] + (value - rgb[c][i]) * own[i]
                  : rgb[c][i] * (1 - own[i] - stripe[i]) + value * own[i] + white * stripe[i];
        }
      }
      double[] total = new double[own.length];
      for (int i = 0; i < total.length; i++) {
        total[i] = own[i] + stripe[i];
      }
      masks.add(mask(total));
    }
    BufferedImage image = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
    for (int i = 0; i < SIZE * SIZE; i++) {
      int r = (int) Math.round(rgb[0][i]);
      int g = (int) Math.round(rgb[1][i]);
      int b = (int) Math.round(rgb[2][i]);
      image.setRGB(i % SIZE, i / SIZE, (r << 16) | (g << 8) | b);
    }
    return new Rendering(image, masks);
  }

  /**
   * The fraction of each pixel the object covers in its own colour and in the pattern's second
   * colour, row-major.
   */
  private static double[][] coverage(SceneObject object, SplittableRandom rng) {
    double radius = object.size().radius();
    double cx = centre(object.position().column(), radius, rng);
    double cy = centre(object.position().row(), radius, rng);
    double[][] coverage = new double[2][SIZE * SIZE];
    int x0 = (int) Math.floor(cx - radius);
    int x1 = (int) Math.ceil(cx + radius);
    int y0 = (int) Math.floor(cy - radius);
    int y1 = (int) Math.ceil(cy + radius);
    double n = SUBSAMPLES * SUBSAMPLES;
    for (int y = y0; y < y1; y++) {
      for (int x = x0; x < x1; x++) {
        int own = 0;
        int stripe = 0;
        for (int sy = 0; sy < SUBSAMPLES; sy++) {
          double v = (y + (sy + 0.5) / SUBSAMPLES - cy) / radius;
          for (int sx = 0; sx < SUBSAMPLES; sx++) {
            double u = (x + (sx + 0.5) / SUBSAMPLES - cx) / radius;
            if (object.shape().contains(u, v)) {
              if (object.pattern().ownColourAt(object.shape(), u, v)) {
                own++;
              } else {
                stripe++;
              }
            }
          }
        }
        coverage[0][y * SIZE + x] = own / n;
        coverage[1][y * SIZE + x] = stripe / n;
      }
    }
    return coverage;
  }

  /** A jittered centre coordinate inside cell {@code index} that keeps the object in the cell. */
  private static double centre(int index, double radius, SplittableRandom rng) {
    double slack = CELL / 2 - radius - MARGIN;
    double jitter = Math.min(MAX_JITTER, slack);
    return (index + 0.5) * CELL + (rng.nextDouble() * 2 - 1) * jitter;
  }

  private static BufferedImage mask(double[] coverage) {
    BufferedImage mask = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_BYTE_GRAY);
    WritableRaster raster = mask.getRaster();
    for (int i = 0; i < coverage.length; i++) {
      raster.setSample(i % SIZE, i / SIZE, 0, (int) Math.round(coverage[i] * 255));
    }
    return mask;
  }

  private static int channel(int rgb, int c) {
    return (rgb >> (16 - 8 * c)) & 0xff;
  }
}
