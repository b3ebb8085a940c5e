package org.perfusionjobs.evaluator.prompts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.attention.Region;
import org.perfusionjobs.engine.pipeline.RegionalConditioner.RegionPrompt;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;

/** Each positioned object's phrase, with the prompt's background, in its cell's box. */
class RegionPromptsTest {
  static final PromptParser PARSER =
      new PromptParser(
          List.of(
              new PromptParser.Concept(
                  "zwx", ConceptSpec.parse("shape=star,colour=red,pattern=stripes")),
              new PromptParser.Concept(
                  "gnq", ConceptSpec.parse("shape=square,colour=purple,pattern=checks"))));

  @Test
  void twoObjectsGetTheirOwnPhrasesInTheirCells() {
    List<RegionPrompt> r =
        RegionPrompts.of(
            PARSER.parse(
                "a large {} on the left and a small {2} on the right on a sand background"),
            0);
    assertEquals(2, r.size());
    assertEquals("a large zwx on the left on a sand background", r.get(0).text());
    assertEquals("a small gnq on the right on a sand background", r.get(1).text());
    assertEquals(new Region(0, 1.0 / 3, 1.0 / 3, 2.0 / 3), r.get(0).box());
    assertEquals(new Region(2.0 / 3, 1.0 / 3, 1, 2.0 / 3), r.get(1).box());
  }

  @Test
  void marginsGrowTheBoxWithinTheImage() {
    List<RegionPrompt> r =
        RegionPrompts.of(PARSER.parse("a {} at the top left and a blue circle at the bottom"), 0.1);
    assertEquals("a zwx at the top left", r.get(0).text());
    assertEquals("a blue circle at the bottom", r.get(1).text());
    Region a = r.get(0).box();
    Region b = r.get(1).box();
    assertEquals(0, a.left());
    assertEquals(0, a.top());
    assertEquals(1.0 / 3 + 0.1, a.right(), 1e-12);
    assertEquals(1.0 / 3 + 0.1, a.bottom(), 1e-12);
    assertEquals(1.0 / 3 - 0.1, b.left(), 1e-12);
    assertEquals(2.0 / 3 - 0.1, b.top(), 1e-12);
    assertEquals(1, b.bottom());
  }

  @Test
  void oneObjectIsOneRegionInItsCellOrTheCentre() {
    List<RegionPrompt> one = RegionPrompts.of(PARSER.parse("a small {} in the centre"), 0);
    assertEquals(1, one.size());
    assertEquals("a small zwx in the centre", one.get(0).text());
    assertEquals(new Region(1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3), one.get(0).box());
    List<RegionPrompt> centre =
        RegionPrompts.of(PARSER.parse("a large {} on a sand background"), 0);
    assertEquals(
        List.of(
            new RegionPrompt(
                new Region(1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3),
                "a large zwx on a sand background")),
        centre,
        "one object with no position: the centre cell");
    assertTrue(
        RegionPrompts.of(PARSER.parse("a {} on the left and a blue circle"), 0).isEmpty(),
        "every object needs a position");
  }

  @Test
  void aMarginOutsideTheGridIsRefused() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> RegionPrompts.of(PARSER.parse("a {} on the left"), 0.4));
    assertEquals("region margin must be in [0, 1/3) of the image, got 0.4", e.getMessage());
  }
}
