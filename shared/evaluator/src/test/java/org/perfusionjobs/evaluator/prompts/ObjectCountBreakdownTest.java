package org.perfusionjobs.evaluator.prompts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.evaluator.ObjectPrediction;
import org.perfusionjobs.evaluator.ScenePrediction;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/**
 * Splits scores by the prompt's object count and counts images that paint two asked colours as one.
 */
class ObjectCountBreakdownTest {
  private static EvalPrompt.Asked asked(Colour c, Position p) {
    return new EvalPrompt.Asked(
        new SceneObject(Shape.STAR, c, p, Size.MEDIUM),
        Set.of(Attribute.SHAPE, Attribute.COLOUR, Attribute.POSITION));
  }

  private static ObjectPrediction found(Colour c, Position p) {
    return new ObjectPrediction(p, Shape.STAR, c, Size.MEDIUM, Pattern.PLAIN, 1.0);
  }

  @Test
  void splitsByObjectCountAndCountsMergedColours() {
    List<EvalPrompt> prompts =
        List.of(
            new EvalPrompt(
                "a red star on the left", List.of(asked(Colour.RED, Position.LEFT)), null, false),
            new EvalPrompt(
                "a red star on the left and a blue star on the right",
                List.of(asked(Colour.RED, Position.LEFT), asked(Colour.BLUE, Position.RIGHT)),
                null,
                false),
            new EvalPrompt(
                "a red star on the left and a blue star on the right",
                List.of(asked(Colour.RED, Position.LEFT), asked(Colour.BLUE, Position.RIGHT)),
                null,
                false),
            // Same colour asked twice: painting both alike is right, so it is not a merge
            // candidate.
            new EvalPrompt(
                "a red star on the left and a red star on the right",
                List.of(asked(Colour.RED, Position.LEFT), asked(Colour.RED, Position.RIGHT)),
                null,
                false));
    List<ScenePrediction> scenes =
        List.of(
            new ScenePrediction(Background.WHITE, List.of(found(Colour.RED, Position.LEFT))),
            new ScenePrediction(
                Background.WHITE,
                List.of(found(Colour.RED, Position.LEFT), found(Colour.RED, Position.RIGHT))),
            new ScenePrediction(
                Background.WHITE,
                List.of(found(Colour.RED, Position.LEFT), found(Colour.BLUE, Position.RIGHT))),
            new ScenePrediction(
                Background.WHITE,
                List.of(found(Colour.RED, Position.LEFT), found(Colour.RED, Position.RIGHT))));
    List<PromptScore> scores =
        IntStream.range(0, prompts.size())
            .mapToObj(i -> PromptScore.of(prompts.get(i), scenes.get(i)))
            .toList();

    ObjectCountBreakdown b = ObjectCountBreakdown.of(prompts, scenes, scores);
    assertEquals(
        List.of(1, 1), List.of(b.one().get(Attribute.COLOUR)[0], b.one().get(Attribute.COLOUR)[1]));
    // Two-object colours: 1/2 (merged) + 2/2 + 2/2 = 5 of 6.
    assertEquals(
        List.of(5, 6), List.of(b.two().get(Attribute.COLOUR)[0], b.two().get(Attribute.COLOUR)[1]));
    assertEquals(
        List.of(6, 6),
        List.of(b.two().get(Attribute.POSITION)[0], b.two().get(Attribute.POSITION)[1]));
    assertEquals(
        "1/2",
        b.toMap().get("colours_merged"),
        "two prompts ask two different colours; one image paints both red");
    assertEquals(
        Map.of("shape", "1/1", "colour", "1/1", "position", "1/1"), b.toMap().get("one_object"));
    assertTrue(
        b.summary()
            .contains("two objects: shape 6/6 (100.0%), colour 5/6 (83.3%), position 6/6 (100.0%)"),
        b.summary());
    assertTrue(b.summary().endsWith("one colour for both where two were asked: 1/2"), b.summary());

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ObjectCountBreakdown.of(prompts, scenes, List.of()));
    assertTrue(e.getMessage().contains("scores (0)"), e.getMessage());
  }
}
