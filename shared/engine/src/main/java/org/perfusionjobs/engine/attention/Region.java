package org.perfusionjobs.engine.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * A box of the image in fractions of its width and height (0 = left or top edge, 1 = right or
 * bottom), for regional cross-attention: the queries of the feature-map cells whose centres lie in
 * it attend to the region's own text.
 */
public record Region(double left, double top, double right, double bottom) {
  public Region {
    if (!(0 <= left && left < right && right <= 1 && 0 <= top && top < bottom && bottom <= 1)) {
      throw new IllegalArgumentException(
          "region ["
              + left
              + ", "
              + top
              + ", "
              + right
              + ", "
              + bottom
              + "]: expected 0 <= left < right <= 1 and 0 <= top < bottom <= 1 (fractions of the"
              + " image)");
    }
  }

  /** Whether the centre of cell (row, column) of an h x w grid lies in the box. */
  public boolean covers(long row, long column, long h, long w) {
    double x = (column + 0.5) / w;
    double y = (row + 0.5) / h;
    return x >= left && x < right && y >= top && y < bottom;
  }

  /**
   * (1, h*w, 1): 1 for the tokens of an h x w feature map (row-major, as transformer blocks flatten
   * it) whose cells the box covers, else 0.
   */
  public NDArray tokenMask(long h, long w, DataType type, NDManager m) {
    float[] mask = new float[Math.toIntExact(h * w)];
    for (long r = 0; r < h; r++) {
      for (long c = 0; c < w; c++) {
        mask[(int) (r * w + c)] = covers(r, c, h, w) ? 1f : 0f;
      }
    }
    return m.create(mask, new Shape(1, h * w, 1)).toType(type, false);
  }
}
