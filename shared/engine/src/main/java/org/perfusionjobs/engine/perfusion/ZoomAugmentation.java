package org.perfusionjobs.engine.perfusion;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Zoomed copies of a concept's training images (beyond the paper: docs/perfusion.md, "Zoom
 * augmentation"). A few images show the concept at one or two sizes, and a rank-1 value edit learns
 * that size with the look, so a prompt that asks for another size gets the training images' one.
 * Each copy scales an image about its object's centre (the mask's box; the image's centre without a
 * mask) by a factor drawn log-uniformly from [{@code minScale}, {@code maxScale}], lowered where
 * needed to keep the whole object in the frame, and extends the border pixels where a zoomed-out
 * image leaves the frame empty. The masks move with their images, so captions read from the masks
 * afterwards describe each copy as drawn.
 *
 * @param copies zoomed copies added per image (0: off, the paper's)
 */
public record ZoomAugmentation(int copies, double minScale, double maxScale, long seed) {
  public static final ZoomAugmentation OFF = new ZoomAugmentation(0, 1, 1, 0);

  public ZoomAugmentation {
    if (copies < 0 || copies > 16) {
      throw new IllegalArgumentException(
          "zoom: copies per image must be in [0, 16], not " + copies);
    }
    if (!(minScale > 0) || !(maxScale >= minScale) || maxScale > 4) {
      throw new IllegalArgumentException(
          "zoom: the scale range must satisfy 0 < min <= max <= 4, not ["
              + minScale
              + ", "
              + maxScale
              + "]");
    }
  }

  /**
   * {@code data}'s images (each fitted to {@code size}) followed by {@code copies} zoomed copies of
   * each; without captions (read them from the new masks afterwards).
   */
  public TrainingImages apply(TrainingImages data, int size) {
    if (copies == 0) {
      return data;
    }
    SplittableRandom rnd = new SplittableRandom(seed);
    List<BufferedImage> images = new ArrayList<>();
    List<BufferedImage> masks = data.masks() == null ? null : new ArrayList<>();
    List<BufferedImage[]> fitted = new ArrayList<>();
    for (int i = 0; i < data.images().size(); i++) {
      BufferedImage img =
          TrainingImages.fit(data.images().get(i), size, BufferedImage.TYPE_INT_RGB);
      BufferedImage mask =
          data.masks() == null || data.masks().get(i) == null
              ? null
              : TrainingImages.fit(data.masks().get(i), size, BufferedImage.TYPE_BYTE_GRAY);
      fitted.add(new BufferedImage[] {img, mask});
      images.add(img);
      if (masks != null) {
        masks.add(mask);
      }
    }
    for (BufferedImage[] f : fitted) {
      int[] box = box(f[1], size);
      for (int c = 0; c < copies; c++) {
        double s = Math.exp(rnd.nextDouble(Math.log(minScale), Math.log(maxScale) + 1e-12));
        s = Math.min(s, room(box, size)); // the scaled object must stay whole in the frame
        double ox = offset(box[0], box[2], s);
        double oy = offset(box[1], box[3], s);
        images.add(warp(f[0], s, ox, oy, BufferedImage.TYPE_INT_RGB));
        if (masks != null) {
          masks.add(f[1] == null ? null : warp(f[1], s, ox, oy, BufferedImage.TYPE_BYTE_GRAY));
        }
      }
    }
    return new TrainingImages(images, masks);
  }

  /**
   * The offset o of the map X -> s X + o that keeps the centre of [a, b) where it is: the object
   * stays in its place (a model trained on scenes laid out in cells never saw one across two), and
   * the frame stays inside the source when zooming in, since o = c (1 - s) lies in [size (1 - s),
   * 0] for s >= 1 and 0 <= c <= size.
   */
  static double offset(int a, int b, double s) {
    return (a + b) / 2.0 * (1 - s);
  }

  /** The largest factor about the box's centre that keeps the box inside [0, size)^2. */
  static double room(int[] box, int size) {
    double r = Double.MAX_VALUE;
    for (int axis = 0; axis < 2; axis++) {
      double half = (box[axis + 2] - box[axis]) / 2.0;
      double c = box[axis] + half;
      r = Math.min(r, Math.min(c, size - c) / half);
    }
    return r;
  }

  /** The mask's covered box [x0, y0, x1, y1) (x1, y1 exclusive); the whole image without one. */
  static int[] box(BufferedImage mask, int size) {
    if (mask == null) {
      return new int[] {0, 0, size, size};
    }
    int x0 = size;
    int y0 = size;
    int x1 = 0;
    int y1 = 0;
    var r = mask.getRaster();
    for (int y = 0; y < size; y++) {
      for (int x = 0; x < size; x++) {
        if (r.getSample(x, y, 0) > 0) {
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x + 1);
          y1 = Math.max(y1, y + 1);
        }
      }
    }
    return x1 == 0 ? new int[] {0, 0, size, size} : new int[] {x0, y0, x1, y1};
  }

  /**
   * out(x, y) = src((x + 0.5 - ox) / s - 0.5, (y + 0.5 - oy) / s - 0.5), bilinear, coordinates
   * clamped to the border (so a flat background stays flat).
   */
  static BufferedImage warp(BufferedImage src, double s, double ox, double oy, int type) {
    int n = src.getWidth();
    int bands = type == BufferedImage.TYPE_BYTE_GRAY ? 1 : 3;
    var in = src.getRaster();
    BufferedImage out = new BufferedImage(n, n, type);
    var w = out.getRaster();
    double[] px = new double[bands];
    for (int y = 0; y < n; y++) {
      double v = clamp((y + 0.5 - oy) / s - 0.5, n);
      int v0 = (int) Math.floor(v);
      int v1 = Math.min(n - 1, v0 + 1);
      double fv = v - v0;
      for (int x = 0; x < n; x++) {
        double u = clamp((x + 0.5 - ox) / s - 0.5, n);
        int u0 = (int) Math.floor(u);
        int u1 = Math.min(n - 1, u0 + 1);
        double fu = u - u0;
        for (int b = 0; b < bands; b++) {
          double top = in.getSample(u0, v0, b) * (1 - fu) + in.getSample(u1, v0, b) * fu;
          double bottom = in.getSample(u0, v1, b) * (1 - fu) + in.getSample(u1, v1, b) * fu;
          px[b] = Math.round(top * (1 - fv) + bottom * fv);
        }
        w.setPixel(x, y, px);
      }
    }
    return out;
  }

  private static double clamp(double c, int n) {
    return Math.max(0, Math.min(n - 1, c));
  }
}
