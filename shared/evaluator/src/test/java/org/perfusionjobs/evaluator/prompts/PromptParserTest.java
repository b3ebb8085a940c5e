package org.perfusionjobs.evaluator.prompts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/** Hand-written prompts and, written out by hand, what each asks. */
class PromptParserTest {
  private static final ConceptSpec ZWX = new ConceptSpec(Shape.STAR, Colour.RED, Pattern.STRIPES);
  private static final ConceptSpec VKP = new ConceptSpec(Shape.HEART, Colour.BLUE, Pattern.DOTS);
  private final PromptParser parser =
      new PromptParser(
          List.of(new PromptParser.Concept("zwx", ZWX), new PromptParser.Concept("vkp", VKP)));

  @Test
  void theConceptAloneAndWithPositionSizeAndBackground() {
    EvalPrompt p = parser.parse("a {}");
    assertEquals("a zwx", p.text());
    assertTrue(p.concept());
    assertEquals(null, p.background());
    assertEquals(1, p.objects().size());
    assertEquals(Set.of(Attribute.CONCEPT), p.objects().get(0).attributes());
    assertEquals(Shape.STAR, p.objects().get(0).object().shape());
    assertEquals(Pattern.STRIPES, p.objects().get(0).object().pattern());

    EvalPrompt q = parser.parse("a large {} in the top left corner on a sky blue background");
    assertEquals("a large zwx in the top left corner on a sky blue background", q.text());
    assertEquals(
        EnumSet.of(Attribute.CONCEPT, Attribute.SIZE, Attribute.POSITION),
        q.objects().get(0).attributes());
    assertEquals(Size.LARGE, q.objects().get(0).object().size());
    assertEquals(Position.TOP_LEFT, q.objects().get(0).object().position());
    assertEquals(Background.SKY, q.background());

    EvalPrompt little = parser.parse("a little {1} at the bottom");
    assertEquals(Size.SMALL, little.objects().get(0).object().size());
    assertEquals(Position.BOTTOM, little.objects().get(0).object().position());
  }

  @Test
  void aConceptBesideAnOrdinaryObjectAndTwoConcepts() {
    EvalPrompt p = parser.parse("a {} on the left and a blue circle on the right");
    assertEquals(2, p.objects().size());
    assertEquals(
        EnumSet.of(Attribute.CONCEPT, Attribute.POSITION), p.objects().get(0).attributes());
    assertEquals(Position.LEFT, p.objects().get(0).object().position());
    EvalPrompt.Asked circle = p.objects().get(1);
    assertEquals(
        EnumSet.of(Attribute.SHAPE, Attribute.COLOUR, Attribute.POSITION), circle.attributes());
    assertEquals(Shape.CIRCLE, circle.object().shape());
    assertEquals(Colour.BLUE, circle.object().colour());
    assertEquals(Position.RIGHT, circle.object().position());

    EvalPrompt two = parser.parse("a {1} on the left and a {2} on the right");
    assertEquals("a zwx on the left and a vkp on the right", two.text());
    assertEquals(Shape.HEART, two.objects().get(1).object().shape());
    assertEquals(Pattern.DOTS, two.objects().get(1).object().pattern());
    assertEquals(
        EnumSet.of(Attribute.CONCEPT, Attribute.POSITION), two.objects().get(1).attributes());
  }

  @Test
  void theCaptionersOtherWordOrders() {
    EvalPrompt list = parser.parse("a photo of a heart, green, big, top right");
    EvalPrompt.Asked h = list.objects().get(0);
    assertEquals(
        EnumSet.of(Attribute.SHAPE, Attribute.COLOUR, Attribute.SIZE, Attribute.POSITION),
        h.attributes());
    assertEquals(
        List.of(Shape.HEART, Colour.GREEN, Size.LARGE, Position.TOP_RIGHT),
        List.of(h.object().shape(), h.object().colour(), h.object().size(), h.object().position()));
    assertTrue(!list.concept());

    EvalPrompt leading = parser.parse("at the bottom left, a small {}");
    assertEquals(Position.BOTTOM_LEFT, leading.objects().get(0).object().position());
    assertEquals(Size.SMALL, leading.objects().get(0).object().size());
    assertEquals(
        EnumSet.of(Attribute.CONCEPT, Attribute.SIZE, Attribute.POSITION),
        leading.objects().get(0).attributes());

    EvalPrompt photo = parser.parse("a photo of a red square and an orange triangle");
    assertEquals(
        List.of(Shape.SQUARE, Shape.TRIANGLE),
        photo.objects().stream().map(a -> a.object().shape()).toList());
    assertEquals(
        List.of(Colour.RED, Colour.ORANGE),
        photo.objects().stream().map(a -> a.object().colour()).toList());
    assertEquals(
        EnumSet.of(Attribute.SHAPE, Attribute.COLOUR), photo.objects().get(1).attributes());
  }

  @Test
  void wordsThatCannotBeScoredAreOneLineErrors() {
    assertError("a {} left of a blue circle", "relations ('left of') are not scored");
    assertError("a {} on the left and a red star and a blue circle", "asks for 3 objects");
    assertError("a shiny {}", "unknown word 'shiny'");
    assertError("a {3}", "{3} names concept 3 but 2 concept(s) are given");
    assertError("a red", "a colour or size word describes no object");
    assertError("a red blue star", "two colours for one object");
    assertError("a blue {}", "colour word 'blue' on concept 'zwx'");
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new PromptParser(List.of(new PromptParser.Concept("star", ZWX))));
    assertTrue(
        e.getMessage().startsWith("concept word: 'star' is already a caption word"),
        e.getMessage());
  }

  private void assertError(String prompt, String part) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> parser.parse(prompt));
    assertTrue(e.getMessage().contains(part) && !e.getMessage().contains("\n"), e.getMessage());
  }
}
