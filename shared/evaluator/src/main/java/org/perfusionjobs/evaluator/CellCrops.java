package org.perfusionjobs.evaluator;

import java.awt.image.BufferedImage;
import org.perfusionjobs.world.Position;

/**
 * Cuts a 64x64 image into 9 overlapping 24x24 crops, one per cell of the world's 3x3 grid (in
 * {@link Position} order), each reaching 1-3 pixels into its neighbours; pixels outside the image
 * repeat its edge. Values are CHW floats in [-1, 1], as the engine's images.
 */
final class CellCrops {
  static final int IMAGE = 64;
  static final int CROP = 24;
  static final int CELLS = 9;
  static final int FLOATS = 3 * CROP * CROP;

  private CellCrops() {}

  /** The left (or top) pixel of the crop of cell column (or row) {@code index}. */
  static int start(int index) {
    return index * 21 - 1;
  }

  /**
   * Writes the 9 crops of {@code img} into {@code out} from {@code offset} (9 x {@link #FLOATS}
   * floats).
   */
  static void write(BufferedImage img, float[] out, int offset) {
    if (img.getWidth() != IMAGE || img.getHeight() != IMAGE) {
      throw new IllegalArgumentException(
          "image: the evaluator reads 64x64 images, got " + img.getWidth() + "x" + img.getHeight());
    }
    int[] px = img.getRGB(0, 0, IMAGE, IMAGE, null, 0, IMAGE);
    for (Position p : Position.values()) {
      int x0 = start(p.column());
      int y0 = start(p.row());
      int base = offset + p.ordinal() * FLOATS;
      for (int y = 0; y < CROP; y++) {
        int sy = Math.min(IMAGE - 1, Math.max(0, y0 + y));
        for (int x = 0; x < CROP; x++) {
          int sx = Math.min(IMAGE - 1, Math.max(0, x0 + x));
          int rgb = px[sy * IMAGE + sx];
          int o = base + y * CROP + x;
          out[o] = ((rgb >> 16) & 255) / 127.5f - 1f;
          out[o + CROP * CROP] = ((rgb >> 8) & 255) / 127.5f - 1f;
          out[o + 2 * CROP * CROP] = (rgb & 255) / 127.5f - 1f;
        }
      }
    }
  }
}
