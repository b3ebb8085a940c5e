package org.perfusionjobs.evaluator.concepts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.perfusionjobs.evaluator.ObjectPrediction;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

class ConceptSpecTest {
  @Test
  void parsesFieldsInAnyOrderAndWritesThemBack() {
    assertEquals(
        new ConceptSpec(Shape.HEART, Colour.BLUE, Pattern.DOTS),
        ConceptSpec.parse("shape=heart,colour=blue,pattern=dots"));
    assertEquals(
        new ConceptSpec(Shape.STAR, Colour.RED, Pattern.STRIPES),
        ConceptSpec.parse(" pattern=stripes, color=RED ,shape=star"));
    assertEquals(
        new ConceptSpec(Shape.CIRCLE, Colour.GREEN, Pattern.PLAIN),
        ConceptSpec.parse("shape=circle,colour=green"));
    assertEquals(
        "shape=square,colour=orange,pattern=ring",
        ConceptSpec.parse("colour=orange,shape=square,pattern=ring").text());
  }

  @Test
  void aBadSpecIsOneLineNamingTheField() {
    assertError("", "spec: empty");
    assertError("shape=heart,blue", "spec: 'blue' is not field=value");
    assertError("shape=heart,colour=blue,size=large", "spec: unknown field 'size'");
    assertError("shape=heart,shape=star,colour=red", "spec: shape given twice");
    assertError("colour=red,pattern=dots", "spec: shape missing");
    assertError("shape=star", "spec: colour missing");
    assertError(
        "shape=hexagon,colour=red",
        "shape: unknown 'hexagon', use one of [circle, square, triangle, star, heart]");
    assertError("shape=star,colour=pink", "colour: unknown 'pink'");
    assertError("shape=star,colour=red,pattern=zigzag", "pattern: unknown 'zigzag'");
  }

  @Test
  void matchesAFoundObjectOnlyWithShapeColourAndPatternRight() {
    ConceptSpec s = ConceptSpec.parse("shape=star,colour=red,pattern=stripes");
    assertTrue(
        s.matches(
            new ObjectPrediction(
                Position.LEFT, Shape.STAR, Colour.RED, Size.SMALL, Pattern.STRIPES, 0.9)));
    assertTrue(
        !s.matches(
            new ObjectPrediction(
                Position.LEFT, Shape.STAR, Colour.RED, Size.SMALL, Pattern.PLAIN, 0.9)));
    assertTrue(
        !s.matches(
            new ObjectPrediction(
                Position.LEFT, Shape.STAR, Colour.BLUE, Size.SMALL, Pattern.STRIPES, 0.9)));
    assertTrue(
        !s.matches(
            new ObjectPrediction(
                Position.LEFT, Shape.HEART, Colour.RED, Size.SMALL, Pattern.STRIPES, 0.9)));
  }

  /**
   * The ceiling rows ask the base model with words, which cannot ask for a fill: {@code
   * pattern=any} scores shape and colour and takes any fill, where a spec without a pattern means
   * plain and takes only plain.
   */
  @Test
  void patternAnyTakesEveryFillAndOnlyScores() {
    ConceptSpec any = ConceptSpec.parse("shape=circle,colour=red,pattern=ANY");
    assertEquals(ConceptSpec.anyFill(Shape.CIRCLE, Colour.RED), any);
    assertTrue(any.anyFill());
    assertEquals("shape=circle,colour=red,pattern=any", any.text());
    assertEquals(any, ConceptSpec.parse(any.text()));
    ConceptSpec plain = ConceptSpec.parse("shape=circle,colour=red");
    for (Pattern fill : Pattern.values()) {
      ObjectPrediction redCircle =
          new ObjectPrediction(Position.TOP, Shape.CIRCLE, Colour.RED, Size.LARGE, fill, 0.9);
      assertTrue(any.matches(redCircle), fill.word());
      assertEquals(fill == Pattern.PLAIN, plain.matches(redCircle), fill.word());
    }
    assertTrue(
        !any.matches(
            new ObjectPrediction(
                Position.TOP, Shape.SQUARE, Colour.RED, Size.LARGE, Pattern.RING, 0.9)));
    assertTrue(
        !any.matches(
            new ObjectPrediction(
                Position.TOP, Shape.CIRCLE, Colour.BLUE, Size.LARGE, Pattern.PLAIN, 0.9)));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ConceptImages.scenes(any, 5, 0));
    assertTrue(e.getMessage().startsWith("pattern: 'any' only scores"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> new ConceptSpec(Shape.CIRCLE, Colour.RED, Pattern.DOTS, true));
  }

  private static void assertError(String spec, String start) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ConceptSpec.parse(spec));
    assertTrue(e.getMessage().startsWith(start) && !e.getMessage().contains("\n"), e.getMessage());
  }
}
