package org.perfusionjobs.evaluator.prompts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.attention.Region;
import org.perfusionjobs.engine.pipeline.RegionalConditioner.RegionPrompt;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;

/**
 * Each positioned object's phrase, with the prompt's background, in its cell's box; one unplaced
 * object in the centre, named there.
 */
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
        RegionPrompts.layout(
                PARSER.parse(
                    "a large {} on the left and a small {2} on the right on a sand background"),
                0)
            .regions();
    assertEquals(2, r.size());
    assertEquals("a large zwx on the left on a sand background", r.get(0).text());
    assertEquals("a small gnq on the right on a sand background", r.get(1).text());
    assertEquals(new Region(0, 1.0 / 3, 1.0 / 3, 2.0 / 3), r.get(0).box());
    assertEquals(new Region(2.0 / 3, 1.0 / 3, 1, 2.0 / 3), r.get(1).box());
  }

  @Test
  void marginsGrowTheBoxWithinTheImage() {
    List<RegionPrompt> r =
        RegionPrompts.layout(
                PARSER.parse("a {} at the top left and a blue circle at the bottom"), 0.1)
            .regions();
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
  void oneObjectIsOneRegionInItsCell() {
    RegionPrompts.Layout one = RegionPrompts.layout(PARSER.parse("a small {} in the centre"), 0);
    assertEquals("a small zwx in the centre", one.prompt(), "a placed prompt is drawn as asked");
    assertEquals(
        List.of(new RegionPrompt(new Region(1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3), one.prompt())),
        one.regions());
    RegionPrompts.Layout left = RegionPrompts.layout(PARSER.parse("a {} on the left"), 0);
    assertEquals("a zwx on the left", left.prompt());
    assertEquals(
        List.of(new RegionPrompt(new Region(0, 1.0 / 3, 1.0 / 3, 2.0 / 3), "a zwx on the left")),
        left.regions());
  }

  @Test
  void anUnplacedObjectIsDrawnInTheCentreAndNamedThere() {
    // The text says where the box is, in the box and for the rest of the image: the base model
    // draws one object for a placed prompt where it draws two or three for an unplaced one.
    RegionPrompts.Layout centre =
        RegionPrompts.layout(PARSER.parse("a large {} on a sand background"), 0);
    assertEquals("a large zwx in the centre on a sand background", centre.prompt());
    assertEquals(
        List.of(
            new RegionPrompt(
                new Region(1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3),
                "a large zwx in the centre on a sand background")),
        centre.regions());
    RegionPrompts.Layout bare = RegionPrompts.layout(PARSER.parse("a {}"), 0.05);
    assertEquals("a zwx in the centre", bare.prompt());
    assertEquals(
        new Region(1.0 / 3 - 0.05, 1.0 / 3 - 0.05, 2.0 / 3 + 0.05, 2.0 / 3 + 0.05),
        bare.regions().get(0).box());
    // What the layout says is what the parser reads back: the object in the centre cell.
    assertEquals(
        org.perfusionjobs.world.Position.CENTRE,
        PARSER.parse(centre.prompt().replace("zwx", "{}")).objects().get(0).object().position());
  }

  @Test
  void twoObjectsNeedBothPositions() {
    RegionPrompts.Layout asIs =
        RegionPrompts.layout(PARSER.parse("a {} on the left and a blue circle"), 0);
    assertTrue(asIs.regions().isEmpty(), "every object needs a position");
    assertEquals("a zwx on the left and a blue circle", asIs.prompt(), "drawn as it is");
  }

  @Test
  void aMarginOutsideTheGridIsRefused() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> RegionPrompts.layout(PARSER.parse("a {} on the left"), 0.4));
    assertEquals("region margin must be in [0, 1/3) of the image, got 0.4", e.getMessage());
  }
}
