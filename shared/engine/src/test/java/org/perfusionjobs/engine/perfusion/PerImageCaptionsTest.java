package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Per-image training captions (TrainingImages.captions, docs/perfusion.md "Captions per training
 * image") on the tiny model: an image's own list replaces the config's templates for that image,
 * its mirrored list is what a flipped draw uses, and without captions (or with null entries)
 * training is bit-identical to before (one draw from the run's random stream either way).
 */
class PerImageCaptionsTest {
  static PerfusionModel perfusion;
  static TrainingImages square;

  @BeforeAll
  static void setUp() throws Exception {
    perfusion = PerfusionModel.of(TinyModel.pipeline());
    square =
        new TrainingImages(
            TinyModel.images(4, Color.RED, false), TinyModel.images(4, Color.RED, true));
  }

  private static TrainingConfig cfg(List<String> templates, boolean flip) {
    return TrainingConfig.defaults("zwx", "car")
        .withSteps(3)
        .withBatch(2, 2)
        .withSeed(7)
        .withFlip(flip ? Flip.ALWAYS : Flip.NEVER)
        .withTemplates(templates);
  }

  private static Concept train(TrainingImages data, TrainingConfig cfg) {
    return perfusion.trainer().train(data, cfg, null, p -> {}, s -> {}, () -> false);
  }

  private static TrainingImages captions(List<String> own, List<String> mirrored) {
    return square.withCaptions(
        Collections.nCopies(
            square.images().size(), new TrainingImages.ImageCaptions(own, mirrored)));
  }

  private static void assertSame(Concept a, Concept b) {
    assertArrayEquals(a.iStar(), b.iStar(), 0f);
    assertArrayEquals(a.embedding(), b.embedding(), 0f);
    a.valueTargets().forEach((p, v) -> assertArrayEquals(v, b.valueTargets().get(p), 0f, p));
  }

  private static boolean differ(Concept a, Concept b) {
    return !Arrays.equals(a.iStar(), b.iStar()) || !Arrays.equals(a.embedding(), b.embedding());
  }

  @Test
  void nullEntriesKeepTheTemplatesBitForBit() {
    List<String> t = List.of("a photo of a {}", "a {} on the left");
    Concept plain = train(square, cfg(t, true));
    List<TrainingImages.ImageCaptions> none = new ArrayList<>();
    square.images().forEach(i -> none.add(null));
    Concept withNulls = train(square.withCaptions(none), cfg(t, true));
    assertSame(plain, withNulls);
    assertNull(plain.trainingSettings().get("captions"));
  }

  @Test
  void ownCaptionsReplaceTheTemplatesAndFlippedDrawsUseTheMirroredOnes() {
    List<String> a = List.of("a photo of a {}");
    List<String> b = List.of("a {} on the left");
    // i_super comes from the config's templates, so every run here keeps templates b.
    Concept templates = train(square, cfg(b, false));
    assertSame(templates, train(captions(b, b), cfg(b, false))); // own = templates: same run
    Concept own = train(captions(a, b), cfg(b, false));
    assertTrue(differ(templates, own), "the image's own captions must replace the templates");
    assertEquals("per-image", own.trainingSettings().get("captions"));
    assertSame(own, train(captions(a, a), cfg(b, false))); // flip off: mirrored never read
    Concept flipSame = train(captions(a, a), cfg(b, true));
    Concept flipMirrored = train(captions(a, b), cfg(b, true));
    assertTrue(differ(flipSame, flipMirrored), "flipped draws must read the mirrored captions");
  }

  @Test
  void captionListsAreCheckedAgainstTheImages() {
    TrainingImages.ImageCaptions c =
        new TrainingImages.ImageCaptions(List.of("a {}"), List.of("a {}"));
    assertThrows(IllegalArgumentException.class, () -> square.withCaptions(List.of(c)));
    assertThrows(
        IllegalArgumentException.class,
        () -> new TrainingImages.ImageCaptions(List.of("no word"), List.of("a {}")));
  }

  /** A caption a user wrote: the flipped image's caption swaps left and right, whole words only. */
  @Test
  void aUsersCaptionIsMirroredBySwappingLeftAndRight() {
    TrainingImages.ImageCaptions c =
        TrainingImages.ImageCaptions.of(
            "Left of centre: a {} on the left, the leftover on the right");
    assertEquals(
        List.of("Left of centre: a {} on the left, the leftover on the right"), c.templates());
    assertEquals(
        List.of("Right of centre: a {} on the right, the leftover on the left"), c.mirrored());
    assertEquals(
        List.of("a {} at the top"), TrainingImages.ImageCaptions.of("a {} at the top").mirrored());
    assertThrows(IllegalArgumentException.class, () -> TrainingImages.ImageCaptions.of("a star"));
  }
}
