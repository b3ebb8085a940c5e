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

  private static void assertError(String spec, String start) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ConceptSpec.parse(spec));
    assertTrue(e.getMessage().startsWith(start) && !e.getMessage().contains("\n"), e.getMessage());
  }
}
