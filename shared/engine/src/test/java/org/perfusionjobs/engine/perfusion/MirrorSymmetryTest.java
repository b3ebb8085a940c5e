package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The trainers flip a concept only when its mirror image is a view of it: hand-drawn objects whose
 * asymmetry has a closed form, and the config that follows from them.
 */
class MirrorSymmetryTest {
  private static final int RED = 0xFF0000;
  private static final int WHITE = 0xFAFAFA;
  private static final int GREY = 0x808080;

  /** A 16x16 grey image with an 8x8 object at columns x0..x0+7, rows 4..11, coloured by fill. */
  private interface Fill {
    int at(int u, int v); // u, v in 0..7 inside the object
  }

  private static BufferedImage image(int x0, Fill f) {
    BufferedImage img = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 16; y++) {
      for (int x = 0; x < 16; x++) {
        boolean in = x >= x0 && x < x0 + 8 && y >= 4 && y < 12;
        img.setRGB(x, y, in ? f.at(x - x0, y - 4) : GREY);
      }
    }
    return img;
  }

  private static BufferedImage mask(int x0) {
    BufferedImage m = new BufferedImage(16, 16, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 4; y < 12; y++) {
      for (int x = x0; x < x0 + 8; x++) {
        m.setRGB(x, y, 0xFFFFFF);
      }
    }
    return m;
  }

  private static TrainingImages masked(Fill f, int... x0s) {
    List<BufferedImage> imgs = new ArrayList<>();
    List<BufferedImage> masks = new ArrayList<>();
    for (int x0 : x0s) {
      imgs.add(image(x0, f));
      masks.add(mask(x0));
    }
    return new TrainingImages(imgs, masks);
  }

  @Test
  void twoToneHalvesAreAsFarFromTheirMirrorAsTheirColours() {
    // Every object pixel faces one of the other colour: |255-250| + |0-250| + |0-250| over 765.
    double expected = (5 + 250 + 250) / 765.0;
    TrainingImages halves = masked((u, v) -> u < 4 ? RED : WHITE, 1, 6, 8);
    assertEquals(expected, halves.mirrorAsymmetry(), 1e-12);
    assertFalse(halves.mirrorSymmetric());
    // A 2x2-square checkerboard of 8 pixels (4 squares a side): its mirror swaps every square.
    TrainingImages checks = masked((u, v) -> ((u / 2 + v / 2) % 2 == 0) ? RED : WHITE, 3);
    assertEquals(expected, checks.mirrorAsymmetry(), 1e-12);
  }

  @Test
  void horizontalStripesAndAPlainObjectAreTheirOwnMirror() {
    TrainingImages stripes = masked((u, v) -> v % 2 == 0 ? RED : WHITE, 0, 5, 8);
    assertEquals(0, stripes.mirrorAsymmetry(), 1e-12);
    assertTrue(stripes.mirrorSymmetric());
    // No mask: the whole image, so a plain object in the middle is symmetric and one at the side
    // is not (the mirror of the object is background).
    assertEquals(0, TrainingImages.of(List.of(image(4, (u, v) -> RED))).mirrorAsymmetry(), 1e-12);
    double side = TrainingImages.of(List.of(image(0, (u, v) -> RED))).mirrorAsymmetry();
    // In rows 4..11 all 16 pixels face the other colour (red and grey: 127 + 128 + 128 = 383);
    // the other rows are grey on grey; 256 pixels in all.
    assertEquals(8 * 16 * 383 / 765.0 / 256, side, 1e-12);
  }

  /**
   * Perfusion's trainer asked to flip a two-tone concept (auto) trains it exactly as with flips
   * off, and records the flips it used; told always (an object photographed from either side) it
   * flips it; a symmetric concept is still flipped (its run differs).
   */
  @Test
  void theTrainerFlipsAnAsymmetricConceptOnlyWhenToldAlways() throws Exception {
    PerfusionModel perfusion = PerfusionModel.of(TinyModel.pipeline());
    TrainingConfig cfg =
        TrainingConfig.defaults("zwx", "car")
            .withSteps(3)
            .withBatch(2, 2)
            .withSeed(7)
            .withTemplates(List.of("a photo of a {}"));
    TrainingImages halves = masked((u, v) -> u < 4 ? RED : WHITE, 1, 6, 8);
    TrainingImages stripes = masked((u, v) -> v % 2 == 0 ? RED : WHITE, 1, 6, 8);
    Concept asked = train(perfusion, halves, cfg);
    Concept off = train(perfusion, halves, cfg.withFlip(Flip.NEVER));
    assertArrayEquals(off.embedding(), asked.embedding(), 0f);
    off.valueTargets().forEach((p, v) -> assertArrayEquals(v, asked.valueTargets().get(p), 0f, p));
    assertEquals("false", asked.trainingSettings().get("random_flip"));
    Concept always = train(perfusion, halves, cfg.withFlip(Flip.ALWAYS));
    assertEquals("true", always.trainingSettings().get("random_flip"));
    assertFalse(Arrays.equals(always.embedding(), off.embedding()));
    Concept flipped = train(perfusion, stripes, cfg);
    Concept unflipped = train(perfusion, stripes, cfg.withFlip(Flip.NEVER));
    assertEquals("true", flipped.trainingSettings().get("random_flip"));
    assertFalse(Arrays.equals(flipped.embedding(), unflipped.embedding()));
  }

  private static Concept train(PerfusionModel p, TrainingImages data, TrainingConfig cfg) {
    return p.trainer().train(data, cfg, null, x -> {}, s -> {}, () -> false);
  }

  @Test
  void flipsStayOnlyForASymmetricConcept() {
    TrainingConfig on = TrainingConfig.defaults("zwx", "star");
    assertTrue(on.randomFlip());
    TrainingImages halves = masked((u, v) -> u < 4 ? RED : WHITE, 2);
    TrainingImages stripes = masked((u, v) -> v % 2 == 0 ? RED : WHITE, 2);
    assertFalse(on.forImages(halves).randomFlip());
    assertTrue(on.forImages(stripes).randomFlip());
    assertFalse(on.withFlip(Flip.NEVER).forImages(stripes).randomFlip());
    assertTrue(on.withFlip(Flip.ALWAYS).forImages(halves).randomFlip());
    assertEquals(on.withFlip(Flip.ALWAYS), on.forImages(stripes));
    assertEquals(on.withFlip(Flip.NEVER), on.forImages(halves));
  }

  @Test
  void flipModesParseByName() {
    assertEquals(Flip.ALWAYS, Flip.parse(" Always "));
    assertEquals(Flip.AUTO, Flip.parse("auto"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Flip.parse("sometimes"));
    assertEquals("flip 'sometimes': expected auto, always or never", e.getMessage());
  }
}
