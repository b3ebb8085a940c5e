package org.perfusionjobs.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CaptionerTest {
  private final World world = new World();

  @Test
  void vocabularyIsExactlyTheWordsCaptionsUse() {
    Set<String> seen = new HashSet<>();
    for (String caption : world.captions(11, 20_000)) {
      for (String word : Captioner.words(caption)) {
        assertTrue(
            world.vocabulary().contains(word),
            () -> "'" + word + "' not in vocabulary: " + caption);
        seen.add(word);
      }
    }
    // The converse keeps vocabulary() from listing words a tokenizer would waste slots on.
    assertEquals(world.vocabulary(), seen);
  }

  @Test
  void captionsNeverContradictTheScene() {
    world
        .samples(12, 3000)
        .forEach(
            sample -> {
              Scene scene = sample.scene();
              String caption = sample.caption();
              CaptionReader.Reading reading = CaptionReader.read(caption);
              assertTrue(
                  reading.backgrounds().isEmpty()
                      || reading.backgrounds().equals(Set.of(scene.background())),
                  () -> "background: " + caption + " for " + scene);
              assertEquals(
                  scene.objects().size(),
                  reading.mentions().size(),
                  () -> "objects named: " + caption);
              for (CaptionReader.Mention m : reading.mentions()) {
                assertEquals(
                    1, m.shapes().size(), () -> "each object is named by its shape: " + caption);
              }
              List<SceneObject> o = scene.objects();
              List<CaptionReader.Mention> m = reading.mentions();
              if (o.size() == 1) {
                assertNull(reading.relation(), caption);
                assertTrue(
                    m.get(0).consistentWith(o.get(0)), () -> caption + " contradicts " + scene);
                return;
              }
              // The caption may name the objects in either order; one order must fit every word.
              boolean inOrder =
                  m.get(0).consistentWith(o.get(0))
                      && m.get(1).consistentWith(o.get(1))
                      && (reading.relation() == null
                          || reading.relation() == scene.relation().orElseThrow());
              boolean swapped =
                  m.get(0).consistentWith(o.get(1))
                      && m.get(1).consistentWith(o.get(0))
                      && (reading.relation() == null
                          || reading.relation() == scene.relation().orElseThrow().inverse());
              assertTrue(inOrder || swapped, () -> caption + " contradicts " + scene);
            });
  }

  @Test
  void readerCatchesContradictions() {
    SceneObject redCircle = new SceneObject(Shape.CIRCLE, Colour.RED, Position.LEFT, Size.SMALL);
    SceneObject blueSquare = new SceneObject(Shape.SQUARE, Colour.BLUE, Position.RIGHT, Size.LARGE);
    CaptionReader.Reading right =
        CaptionReader.read("a red circle left of a big blue square on a grey background");
    assertEquals(Relation.LEFT_OF, right.relation());
    assertEquals(Set.of(Background.GREY), right.backgrounds());
    assertTrue(right.mentions().get(0).consistentWith(redCircle));
    assertTrue(right.mentions().get(1).consistentWith(blueSquare));
    assertEquals(
        Relation.RIGHT_OF,
        CaptionReader.read("a red circle to the right of a blue square").relation());
    assertFalse(
        CaptionReader.read("a small green circle").mentions().get(0).consistentWith(redCircle));
    assertFalse(
        CaptionReader.read("a red circle at the top left")
            .mentions()
            .get(0)
            .consistentWith(redCircle));
    assertFalse(
        CaptionReader.read("a photo of a circle, red, small, top")
            .mentions()
            .get(0)
            .consistentWith(redCircle));
    assertTrue(
        CaptionReader.read("a photo of a circle, red, small, left")
            .mentions()
            .get(0)
            .consistentWith(redCircle));
  }

  @Test
  void articleAgreesWithTheNextWord() {
    for (String caption : world.captions(13, 5000)) {
      assertFalse(caption.matches(".*\\ba [aeiou].*"), caption);
      assertFalse(caption.matches(".*\\ban [^aeiou].*"), caption);
    }
  }

  @Test
  void captionsVary() {
    Scene scene =
        new Scene(
            Background.GREY,
            List.of(new SceneObject(Shape.STAR, Colour.GREEN, Position.TOP, Size.SMALL)));
    Set<String> captions = new HashSet<>();
    for (long seed = 0; seed < 200; seed++) {
      captions.add(new Captioner().caption(scene, new SplittableRandom(seed)));
    }
    assertTrue(captions.size() >= 10, () -> "only " + captions);
    assertTrue(captions.contains("a small green star at the top"), () -> captions.toString());
    assertTrue(
        captions.contains("a photo of a star, green, small, top"), () -> captions.toString());
  }
}
