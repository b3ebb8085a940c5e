package org.perfusionjobs.evaluator.prompts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/**
 * Counts one-object prompts per asked shape; two-object prompts and prompts without a shape are
 * left out.
 */
class ShapeBreakdownTest {
  private static EvalPrompt.Asked asked(Shape s, Attribute... attrs) {
    return new EvalPrompt.Asked(
        new SceneObject(s, Colour.values()[0], Position.CENTRE, Size.MEDIUM), Set.of(attrs));
  }

  private static PromptScore score(int shapeRight, int shapeAsked) {
    return new PromptScore(
        Map.of(
            Attribute.SHAPE,
            new int[] {shapeRight, shapeAsked},
            Attribute.POSITION,
            new int[] {1, shapeAsked}));
  }

  @Test
  void countsRightAndAskedPerShape() {
    List<EvalPrompt> prompts =
        List.of(
            new EvalPrompt("a star", List.of(asked(Shape.STAR, Attribute.SHAPE)), null, false),
            new EvalPrompt("a star", List.of(asked(Shape.STAR, Attribute.SHAPE)), null, false),
            new EvalPrompt("a circle", List.of(asked(Shape.CIRCLE, Attribute.SHAPE)), null, false),
            new EvalPrompt(
                "a star and a heart",
                List.of(asked(Shape.STAR, Attribute.SHAPE), asked(Shape.HEART, Attribute.SHAPE)),
                null,
                false),
            new EvalPrompt(
                "something in the centre",
                List.of(asked(Shape.HEART, Attribute.POSITION)),
                null,
                false));
    List<PromptScore> scores =
        List.of(
            score(1, 1),
            score(0, 1),
            score(1, 1),
            score(2, 2),
            new PromptScore(Map.of(Attribute.POSITION, new int[] {1, 1})));
    ShapeBreakdown b = ShapeBreakdown.of(prompts, scores);
    assertEquals(2, b.counts().size(), "only the one-object prompts that ask for a shape count");
    assertEquals(
        List.of(1, 2), List.of(b.counts().get(Shape.STAR)[0], b.counts().get(Shape.STAR)[1]));
    assertEquals(Map.of("circle", "1/1", "star", "1/2"), b.toMap());
    assertEquals("circle 1/1, star 1/2", b.summary());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ShapeBreakdown.of(prompts, List.of()));
    assertTrue(e.getMessage().contains("prompts (5) and scores (0)"), e.getMessage());
  }
}
