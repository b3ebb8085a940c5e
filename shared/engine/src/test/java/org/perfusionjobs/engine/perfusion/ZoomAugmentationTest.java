package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ZoomAugmentationTest {
  private static final int SIZE = 64;
  private static final int BG = 0x3050a0;
  private static final int FG = 0xe02020;

  /** A flat background with a w x w square of FG at (x, y), and its mask. */
  private static TrainingImages square(int x, int y, int w) {
    BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
    BufferedImage mask = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_BYTE_GRAY);
    for (int j = 0; j < SIZE; j++) {
      for (int i = 0; i < SIZE; i++) {
        boolean in = i >= x && i < x + w && j >= y && j < y + w;
        img.setRGB(i, j, in ? FG : BG);
        mask.getRaster().setSample(i, j, 0, in ? 255 : 0);
      }
    }
    return new TrainingImages(List.of(img), List.of(mask));
  }

  @Test
  void offByDefaultReturnsTheSameImages() {
    TrainingImages data = square(10, 10, 12);
    assertSame(data, ZoomAugmentation.OFF.apply(data, SIZE));
  }

  @Test
  void eachImageGetsItsCopiesAfterTheOriginals() {
    TrainingImages data = square(10, 10, 12);
    TrainingImages two =
        new TrainingImages(
            List.of(data.images().get(0), data.images().get(0)),
            List.of(data.masks().get(0), data.masks().get(0)));
    TrainingImages out = new ZoomAugmentation(3, 0.8, 1.8, 7).apply(two, SIZE);
    assertEquals(8, out.images().size());
    assertEquals(8, out.masks().size());
    // the originals first, unchanged (already SIZE square)
    assertEquals(FG, out.images().get(0).getRGB(15, 15) & 0xffffff);
    assertEquals(BG, out.images().get(1).getRGB(40, 40) & 0xffffff);
  }

  /**
   * The copy's object measures the factor times the original (a 12 px square at 1.5 is 18 px; the
   * box of the mask, read independently here, within 1 px for the bilinear edge), stays whole in
   * the frame, and the image shows the object exactly where the mask does.
   */
  @Test
  void aFixedFactorScalesTheObjectAndTheMaskTogether() {
    for (double s : new double[] {0.75, 1.5}) {
      for (long seed = 0; seed < 20; seed++) {
        TrainingImages out = new ZoomAugmentation(1, s, s, seed).apply(square(40, 6, 12), SIZE);
        BufferedImage img = out.images().get(1);
        BufferedImage mask = out.masks().get(1);
        int x0 = SIZE;
        int x1 = -1;
        int y0 = SIZE;
        int y1 = -1;
        for (int j = 0; j < SIZE; j++) {
          for (int i = 0; i < SIZE; i++) {
            int m = mask.getRaster().getSample(i, j, 0);
            int red = (img.getRGB(i, j) >> 16) & 0xff;
            // the image is the blend of FG over BG by the mask's coverage (1 unit of rounding)
            double want = 0x30 + (0xe0 - 0x30) * m / 255.0;
            assertEquals(want, red, 1.5, "pixel " + i + "," + j);
            if (m >= 128) {
              x0 = Math.min(x0, i);
              x1 = Math.max(x1, i);
              y0 = Math.min(y0, j);
              y1 = Math.max(y1, j);
            }
          }
        }
        assertEquals(12 * s, x1 - x0 + 1, 1.01, "width at " + s);
        assertEquals(12 * s, y1 - y0 + 1, 1.01, "height at " + s);
        assertTrue(x0 >= 0 && y0 >= 0 && x1 < SIZE && y1 < SIZE);
      }
    }
  }

  @Test
  void theObjectKeepsItsCentreAndZoomingInKeepsTheFrameInsideTheSource() {
    SplittableRandom rnd = new SplittableRandom(3);
    for (int k = 0; k < 2000; k++) {
      double s = 0.5 + rnd.nextDouble(2.5);
      int a = rnd.nextInt(SIZE - 1);
      int b = a + 1 + rnd.nextInt(SIZE - a);
      double o = ZoomAugmentation.offset(a, b, s);
      assertEquals((a + b) / 2.0, s * (a + b) / 2.0 + o, 1e-9, "centre moved");
      if (s >= 1) {
        assertTrue(o <= 1e-9 && o + s * SIZE >= SIZE - 1e-9, "frame leaves the source");
      }
    }
  }

  @Test
  void anObjectTooLargeForTheFactorIsScaledToFitTheFrame() {
    TrainingImages out = new ZoomAugmentation(1, 4, 4, 0).apply(square(16, 16, 32), SIZE);
    BufferedImage mask = out.masks().get(1);
    // 32 px centred at 32 would be 128 at 4: the factor shrinks to 2, the object fills the frame
    assertEquals(255, mask.getRaster().getSample(1, 1, 0), 1);
    assertEquals(255, mask.getRaster().getSample(SIZE - 2, SIZE - 2, 0), 1);
  }

  @Test
  void anObjectNearTheEdgeGetsTheLargestFactorThatKeepsItWhole() {
    // a 10 px square at x 2..12: its centre 7 px from the edge allows 7 / 5 = 1.4, not 2
    BufferedImage mask =
        new ZoomAugmentation(1, 2, 2, 0).apply(square(2, 30, 10), SIZE).masks().get(1);
    int covered = 0;
    for (int i = 0; i < SIZE; i++) {
      covered += mask.getRaster().getSample(i, 35, 0) >= 128 ? 1 : 0;
    }
    assertEquals(14, covered, 1);
    assertTrue(mask.getRaster().getSample(0, 35, 0) >= 128, "reaches the edge");
  }

  @Test
  void badSettingsNameTheField() {
    var e = assertThrows(IllegalArgumentException.class, () -> new ZoomAugmentation(-1, 1, 1, 0));
    assertTrue(e.getMessage().startsWith("zoom:"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new ZoomAugmentation(1, 1.5, 1.2, 0));
    assertTrue(e.getMessage().contains("scale range"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new ZoomAugmentation(1, 0, 1, 0));
  }
}
