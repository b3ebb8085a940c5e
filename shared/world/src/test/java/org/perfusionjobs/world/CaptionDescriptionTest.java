package org.perfusionjobs.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link Caption}: what a caption says, checked against an independent reading of its text. */
class CaptionDescriptionTest {
  @Test
  void describedCaptionsSayWhatTheirTextSays() {
    World world = new World(0.4, 0, 0.3);
    for (Caption c : world.describedCaptions(21, 3000)) {
      CaptionReader.Reading r = CaptionReader.read(c.text());
      assertEquals(
          c.background() == null ? Set.of() : Set.of(c.background()), r.backgrounds(), c.text());
      assertEquals(c.relation(), r.relation(), c.text());
      assertEquals(c.objects().size(), r.mentions().size(), c.text());
      for (int i = 0; i < c.objects().size(); i++) {
        Caption.Mention m = c.objects().get(i);
        CaptionReader.Mention read = r.mentions().get(i);
        SceneObject o = m.object();
        assertEquals(Set.of(o.shape()), read.shapes(), c.text());
        assertEquals(m.colour() ? Set.of(o.colour()) : Set.of(), read.colours(), c.text());
        assertEquals(m.size() ? Set.of(o.size()) : Set.of(), read.sizes(), c.text());
        assertEquals(m.position() ? Set.of(o.position()) : Set.of(), read.positions(), c.text());
      }
    }
  }

  @Test
  void withoutDetailTheCaptionsAreThePlainWorlds() {
    List<String> plain = new World().captions(5, 2000);
    assertEquals(plain, new World(World.DEFAULT_TWO_OBJECT_FRACTION, 0, 0).captions(5, 2000));
    assertEquals(
        plain, new World().describedCaptions(5, 2000).stream().map(Caption::text).toList());
    // The scenes do not depend on the captions' detail: same seeds, same images.
    Sample a = new World().sample(9);
    Sample b = new World(World.DEFAULT_TWO_OBJECT_FRACTION, 0, 1).sample(9);
    assertEquals(a.scene(), b.scene());
  }

  @Test
  void detailedCaptionsSayColourAndPositionOfEveryObject() {
    List<Caption> all = new World(0.5, 0, 1).describedCaptions(8, 1000);
    for (Caption c : all) {
      for (Caption.Mention m : c.objects()) {
        assertTrue(m.colour() && m.position(), c.text());
      }
      if (c.objects().size() == 1) {
        assertTrue(c.objects().get(0).size() && c.background() != null, c.text());
      }
    }
    long uniform =
        new World(0.5, 0, 0)
            .describedCaptions(8, 1000).stream()
                .filter(c -> c.objects().stream().allMatch(m -> m.colour() && m.position()))
                .count();
    assertTrue(
        uniform < 600,
        "plain captions leave attributes out: "
            + uniform
            + " of 1000 say colour and position of every object");
  }

  @Test
  void detailOutsideZeroToOneIsRefused() {
    var e = assertThrows(IllegalArgumentException.class, () -> new Captioner(1.5));
    assertTrue(e.getMessage().contains("detailed caption fraction 1.5"), e.getMessage());
  }
}
