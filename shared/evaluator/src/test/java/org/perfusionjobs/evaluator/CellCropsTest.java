package org.perfusionjobs.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.world.Position;

class CellCropsTest {
  @Test
  void eachCropIsItsCellsWindowWithTheEdgeRepeated() {
    BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 64; y++) {
      for (int x = 0; x < 64; x++) {
        img.setRGB(x, y, (x * 4) << 16 | (y * 4) << 8 | 7); // red encodes x, green encodes y
      }
    }
    float[] out = new float[CellCrops.CELLS * CellCrops.FLOATS];
    CellCrops.write(img, out, 0);
    int s = CellCrops.CROP;
    for (Position p : Position.values()) {
      int base = p.ordinal() * CellCrops.FLOATS;
      for (int y = 0; y < s; y++) {
        for (int x = 0; x < s; x++) {
          int sx = Math.min(63, Math.max(0, CellCrops.start(p.column()) + x));
          int sy = Math.min(63, Math.max(0, CellCrops.start(p.row()) + y));
          assertEquals(
              sx * 4 / 127.5f - 1f, out[base + y * s + x], 1e-6, p + " red at " + x + "," + y);
          assertEquals(
              sy * 4 / 127.5f - 1f,
              out[base + s * s + y * s + x],
              1e-6,
              p + " green at " + x + "," + y);
          assertEquals(7 / 127.5f - 1f, out[base + 2 * s * s + y * s + x], 1e-6);
        }
      }
    }
    // The windows cover the image: the cells' crops start at -1, 20, 41 and span 24 pixels.
    assertEquals(-1, CellCrops.start(0));
    assertTrue(CellCrops.start(2) + s >= 64);
  }

  @Test
  void rejectsOtherSizesNamingTheField() {
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                CellCrops.write(
                    new BufferedImage(32, 64, BufferedImage.TYPE_INT_RGB),
                    new float[CellCrops.CELLS * CellCrops.FLOATS],
                    0));
    assertTrue(
        e.getMessage().startsWith("image:") && e.getMessage().contains("32x64"), e.getMessage());
  }
}
