package org.perfusionjobs.evaluator.prompts;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.evaluator.ObjectPrediction;
import org.perfusionjobs.evaluator.ScenePrediction;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/** Four prompts, hand-made findings, and the four figures counted by hand. */
class ConceptMetricsTest {
  private static final ConceptSpec ZWX = new ConceptSpec(Shape.STAR, Colour.RED, Pattern.STRIPES);
  private static final ConceptSpec VKP = new ConceptSpec(Shape.HEART, Colour.BLUE, Pattern.DOTS);

  private static ObjectPrediction at(Position p, Shape s, Colour c, Pattern pat) {
    return new ObjectPrediction(p, s, c, Size.LARGE, pat, 0.9);
  }

  @Test
  void fidelityCountAlignmentAndCompositionAsCountedByHand() {
    PromptParser parser =
        new PromptParser(
            List.of(new PromptParser.Concept("zwx", ZWX), new PromptParser.Concept("vkp", VKP)));
    List<EvalPrompt> prompts =
        List.of(
            parser.parse("a {} on the left"),
            parser.parse("a {} on a grey background"),
            parser.parse("a {} on the left and a blue circle on the right"),
            parser.parse("a {1} at the top and a {2} at the bottom"));
    List<ScenePrediction> found = new ArrayList<>();
    // 1: the concept on the left, and a second copy: fidelity yes, count no (2 for 1), position
    // yes.
    found.add(
        new ScenePrediction(
            Background.SKY,
            List.of(
                at(Position.LEFT, Shape.STAR, Colour.RED, Pattern.STRIPES),
                at(Position.CENTRE, Shape.STAR, Colour.RED, Pattern.STRIPES))));
    // 2: a plain red star on sand: fidelity no, count yes, background no.
    found.add(
        new ScenePrediction(
            Background.SAND, List.of(at(Position.CENTRE, Shape.STAR, Colour.RED, Pattern.PLAIN))));
    // 3: the concept on the left, a blue circle on the right: fidelity yes, count yes, 4 checks of
    // 4, composition yes.
    found.add(
        new ScenePrediction(
            Background.GREY,
            List.of(
                at(Position.LEFT, Shape.STAR, Colour.RED, Pattern.STRIPES),
                at(Position.RIGHT, Shape.CIRCLE, Colour.BLUE, Pattern.PLAIN))));
    // 4: zwx at the top, vkp drawn plain at the bottom: zwx found, vkp not; count yes; positions 2
    // of 2; composition no.
    found.add(
        new ScenePrediction(
            Background.GREY,
            List.of(
                at(Position.TOP, Shape.STAR, Colour.RED, Pattern.STRIPES),
                at(Position.BOTTOM, Shape.HEART, Colour.BLUE, Pattern.PLAIN))));
    List<PromptScore> scores = new ArrayList<>();
    for (int i = 0; i < prompts.size(); i++) {
      scores.add(PromptScore.of(prompts.get(i), found.get(i)));
    }
    ConceptMetrics m = ConceptMetrics.of(prompts, found, scores);
    assertEquals(4, m.images());
    assertEquals(
        3 / 5.0,
        m.fidelity(),
        1e-12,
        "concepts asked: 1 + 1 + 1 + 2 = 5; found: 1 + 0 + 1 + 1 = 3");
    assertEquals(3 / 4.0, m.exactCount(), 1e-12);
    // Other checks: 1 position; 1 background (wrong); 1 position + circle's shape, colour,
    // position; 2 positions = 8, 7 right.
    assertEquals(7 / 8.0, m.alignment(), 1e-12);
    assertEquals(1 / 2.0, m.composition(), 1e-12);
  }

  /**
   * The ceiling rows (the base model asked "a red circle ..."): with {@code pattern=any} a red
   * circle with a ring is the asked object, with the plain spec it is not; count, alignment and the
   * second object are scored the same either way.
   */
  @Test
  void anyFillCountsTheShapeAndColourWhateverTheFill() {
    ConceptSpec any = ConceptSpec.anyFill(Shape.CIRCLE, Colour.RED);
    ConceptSpec plain = new ConceptSpec(Shape.CIRCLE, Colour.RED, Pattern.PLAIN);
    List<ScenePrediction> found =
        List.of(
            new ScenePrediction(
                Background.SKY, List.of(at(Position.LEFT, Shape.CIRCLE, Colour.RED, Pattern.RING))),
            new ScenePrediction(
                Background.SKY,
                List.of(
                    at(Position.LEFT, Shape.CIRCLE, Colour.RED, Pattern.HALVES),
                    at(Position.RIGHT, Shape.STAR, Colour.BLUE, Pattern.DOTS))),
            new ScenePrediction(
                Background.SKY,
                List.of(at(Position.LEFT, Shape.CIRCLE, Colour.RED, Pattern.PLAIN))));
    double[] fidelity = new double[2];
    double[] composition = new double[2];
    int k = 0;
    for (ConceptSpec spec : List.of(any, plain)) {
      PromptParser parser = new PromptParser(List.of(new PromptParser.Concept("kvz", spec)));
      List<EvalPrompt> prompts =
          List.of(
              parser.parse("a {} on the left"),
              parser.parse("a {} on the left and a blue star on the right"),
              parser.parse("a {} on the left"));
      List<PromptScore> scores = new ArrayList<>();
      for (int i = 0; i < prompts.size(); i++) {
        scores.add(PromptScore.of(prompts.get(i), found.get(i)));
      }
      ConceptMetrics m = ConceptMetrics.of(prompts, found, scores);
      fidelity[k] = m.fidelity();
      composition[k] = m.composition();
      assertEquals(1.0, m.exactCount(), 1e-12);
      assertEquals(1.0, m.alignment(), 1e-12, "positions, the star's shape and colour");
      k++;
    }
    assertEquals(1.0, fidelity[0], 1e-12, "ring, halves and plain are all a red circle");
    assertEquals(1 / 3.0, fidelity[1], 1e-12, "only the plain one");
    assertEquals(1.0, composition[0], 1e-12);
    assertEquals(0.0, composition[1], 1e-12);
  }

  /**
   * A run with no concept (the base model on words): composition is over its two-object prompts, so
   * the pair prompts' ceiling is one eval away; one-object prompts do not count.
   */
  @Test
  void withoutConceptsCompositionIsOverTheTwoObjectPrompts() {
    PromptParser parser = new PromptParser(List.of());
    List<EvalPrompt> prompts =
        List.of(
            parser.parse("a red star on the left and a blue heart on the right"),
            parser.parse("a red star at the top and a blue heart at the bottom"),
            parser.parse("a red star"));
    List<ScenePrediction> found =
        List.of(
            // both right
            new ScenePrediction(
                Background.GREY,
                List.of(
                    at(Position.LEFT, Shape.STAR, Colour.RED, Pattern.PLAIN),
                    at(Position.RIGHT, Shape.HEART, Colour.BLUE, Pattern.PLAIN))),
            // the heart drawn red: not both right
            new ScenePrediction(
                Background.GREY,
                List.of(
                    at(Position.TOP, Shape.STAR, Colour.RED, Pattern.PLAIN),
                    at(Position.BOTTOM, Shape.HEART, Colour.RED, Pattern.PLAIN))),
            new ScenePrediction(
                Background.GREY,
                List.of(at(Position.CENTRE, Shape.STAR, Colour.RED, Pattern.PLAIN))));
    List<PromptScore> scores = new ArrayList<>();
    for (int i = 0; i < prompts.size(); i++) {
      scores.add(PromptScore.of(prompts.get(i), found.get(i)));
    }
    ConceptMetrics m = ConceptMetrics.of(prompts, found, scores);
    assertEquals(null, m.fidelity());
    assertEquals(1 / 2.0, m.composition(), 1e-12, "1 of the 2 two-object prompts");
  }

  @Test
  void figuresNoPromptAsksForAreNull() {
    PromptParser parser = new PromptParser(List.of(new PromptParser.Concept("zwx", ZWX)));
    List<EvalPrompt> prompts = List.of(parser.parse("a {}"));
    List<ScenePrediction> found =
        List.of(
            new ScenePrediction(
                Background.SKY,
                List.of(at(Position.LEFT, Shape.STAR, Colour.RED, Pattern.STRIPES))));
    ConceptMetrics m =
        ConceptMetrics.of(prompts, found, List.of(PromptScore.of(prompts.get(0), found.get(0))));
    assertEquals(1.0, m.fidelity(), 0);
    assertEquals(null, m.alignment());
    assertEquals(null, m.composition());
    assertEquals(
        "{images=1, fidelity=1.0, exactCount=1.0, alignment=null, composition=null}",
        m.toMap().toString());
  }
}
