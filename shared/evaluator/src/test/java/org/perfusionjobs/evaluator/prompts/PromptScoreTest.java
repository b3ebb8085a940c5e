package org.perfusionjobs.evaluator.prompts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.EnumSet;
import java.util.List;
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

class PromptScoreTest {
  private static final SceneObject RED_STAR_LEFT =
      new SceneObject(Shape.STAR, Colour.RED, Position.LEFT, Size.LARGE);
  private static final SceneObject BLUE_CIRCLE_RIGHT =
      new SceneObject(Shape.CIRCLE, Colour.BLUE, Position.RIGHT, Size.SMALL);

  private static ObjectPrediction found(
      Position p, Shape s, Colour c, Size z, Pattern pat, double presence) {
    return new ObjectPrediction(p, s, c, z, pat, presence);
  }

  @Test
  void twoObjectsAreMatchedWhateverOrderTheEvaluatorListsThem() {
    EnumSet<Attribute> asked = EnumSet.of(Attribute.SHAPE, Attribute.COLOUR, Attribute.POSITION);
    EvalPrompt p =
        new EvalPrompt(
            "a red star on the left and a blue circle on the right",
            List.of(
                new EvalPrompt.Asked(RED_STAR_LEFT, asked),
                new EvalPrompt.Asked(BLUE_CIRCLE_RIGHT, asked)),
            null,
            false);
    // Circle listed first (more confident), and drawn green.
    ScenePrediction f =
        new ScenePrediction(
            Background.GREY,
            List.of(
                found(Position.RIGHT, Shape.CIRCLE, Colour.GREEN, Size.SMALL, Pattern.PLAIN, 0.99),
                found(Position.LEFT, Shape.STAR, Colour.RED, Size.LARGE, Pattern.PLAIN, 0.9)));
    PromptScore s = PromptScore.of(p, f);
    assertArrayEquals(new int[] {2, 2}, s.counts().get(Attribute.SHAPE));
    assertArrayEquals(new int[] {1, 2}, s.counts().get(Attribute.COLOUR));
    assertArrayEquals(new int[] {2, 2}, s.counts().get(Attribute.POSITION));
    assertEquals(null, s.counts().get(Attribute.BACKGROUND), "background not asked");
  }

  @Test
  void anAskedObjectWithNothingFoundFailsAllItsChecks() {
    EnumSet<Attribute> asked = EnumSet.of(Attribute.SHAPE, Attribute.POSITION);
    EvalPrompt p =
        new EvalPrompt(
            "x",
            List.of(
                new EvalPrompt.Asked(RED_STAR_LEFT, asked),
                new EvalPrompt.Asked(BLUE_CIRCLE_RIGHT, asked)),
            null,
            false);
    ScenePrediction f =
        new ScenePrediction(
            Background.GREY,
            List.of(found(Position.LEFT, Shape.STAR, Colour.RED, Size.LARGE, Pattern.PLAIN, 0.9)));
    PromptScore s = PromptScore.of(p, f);
    assertArrayEquals(new int[] {1, 2}, s.counts().get(Attribute.SHAPE));
    assertArrayEquals(new int[] {1, 2}, s.counts().get(Attribute.POSITION));
  }

  @Test
  void theConceptNeedsShapeColourAndStripesAndTheBackgroundIsPerImage() {
    SceneObject concept =
        new SceneObject(Shape.STAR, Colour.RED, Position.TOP, Size.LARGE, Pattern.STRIPES);
    EvalPrompt p =
        new EvalPrompt(
            "a zwx on a sand background",
            List.of(new EvalPrompt.Asked(concept, EnumSet.of(Attribute.CONCEPT))),
            Background.SAND,
            true);
    PromptScore plainStar =
        PromptScore.of(
            p,
            new ScenePrediction(
                Background.SAND,
                List.of(
                    found(Position.TOP, Shape.STAR, Colour.RED, Size.LARGE, Pattern.PLAIN, 0.9))));
    assertArrayEquals(new int[] {0, 1}, plainStar.counts().get(Attribute.CONCEPT));
    assertArrayEquals(new int[] {1, 1}, plainStar.counts().get(Attribute.BACKGROUND));
    PromptScore striped =
        PromptScore.of(
            p,
            new ScenePrediction(
                Background.GREY,
                List.of(
                    found(
                        Position.CENTRE,
                        Shape.STAR,
                        Colour.RED,
                        Size.SMALL,
                        Pattern.STRIPES,
                        0.9))));
    assertArrayEquals(
        new int[] {1, 1},
        striped.counts().get(Attribute.CONCEPT),
        "position and size were not asked");
    assertArrayEquals(new int[] {0, 1}, striped.counts().get(Attribute.BACKGROUND));
    EvalReport r = EvalReport.of(List.of(plainStar, striped));
    assertEquals(0.5, r.rate(Attribute.CONCEPT), 1e-12);
    assertEquals(0.5, r.alignment(), 1e-12, "alignment pools the background checks only");
  }
}
