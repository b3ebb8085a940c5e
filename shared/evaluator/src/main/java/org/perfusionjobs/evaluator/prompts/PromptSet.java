package org.perfusionjobs.evaluator.prompts;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/**
 * Seeded prompt sets in the world's own caption language (templates the base model was trained on),
 * each prompt with what it asks for.
 */
public final class PromptSet {
  /** The demo concept as the world renders it: a red star with white stripes. */
  public static final SceneObject DEMO_CONCEPT =
      new SceneObject(Shape.STAR, Colour.RED, Position.CENTRE, Size.LARGE, Pattern.STRIPES);

  private PromptSet() {}

  /**
   * {@code n} prompts for the base model: 70% one object with every attribute and the background
   * ("a small red star at the top on a sand background"), 30% two objects in one row or column with
   * shape, colour and position each ("a red star on the left and a blue circle on the right").
   */
  public static List<EvalPrompt> base(long seed, int n) {
    SplittableRandom rnd = new SplittableRandom(seed);
    List<EvalPrompt> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Background bg = pick(Background.values(), rnd);
      SceneObject a = object(pick(Position.values(), rnd), rnd);
      if (rnd.nextDouble() < 0.7) {
        String text =
            String.format(
                "a %s %s %s %s on a %s background",
                a.size().words().get(0),
                word(a.colour()),
                a.shape().words().get(0),
                phrase(a.position()),
                bg.words().get(0));
        out.add(
            new EvalPrompt(
                article(text),
                List.of(
                    new EvalPrompt.Asked(
                        a,
                        EnumSet.of(
                            Attribute.SHAPE,
                            Attribute.COLOUR,
                            Attribute.SIZE,
                            Attribute.POSITION))),
                bg,
                false));
      } else {
        SceneObject b = object(pick(aligned(a.position()), rnd), rnd);
        String text =
            String.format(
                "a %s %s %s and a %s %s %s",
                word(a.colour()),
                a.shape().words().get(0),
                phrase(a.position()),
                word(b.colour()),
                b.shape().words().get(0),
                phrase(b.position()));
        Set<Attribute> asked = EnumSet.of(Attribute.SHAPE, Attribute.COLOUR, Attribute.POSITION);
        out.add(
            new EvalPrompt(
                article(text),
                List.of(new EvalPrompt.Asked(a, asked), new EvalPrompt.Asked(b, asked)),
                null,
                false));
      }
    }
    return out;
  }

  /**
   * {@code n} prompts with the concept word {@code word}, cycling through five kinds: the concept
   * alone; at a position; with a size and a position; on a background; beside a second object ("a
   * zwx on the left and a blue circle on the right"). The concept object is asked for by its word
   * only, so its shape and colour are not scored as alignment: {@link Attribute#CONCEPT} is.
   */
  public static List<EvalPrompt> concept(String word, long seed, int n) {
    return concept(
        word,
        new ConceptSpec(DEMO_CONCEPT.shape(), DEMO_CONCEPT.colour(), DEMO_CONCEPT.pattern()),
        seed,
        n);
  }

  /**
   * As {@link #concept(String, long, int)}, for a concept that looks like {@code spec}: the same
   * prompts, only the expected object differs.
   */
  public static List<EvalPrompt> concept(String word, ConceptSpec spec, long seed, int n) {
    SplittableRandom rnd = new SplittableRandom(seed);
    List<EvalPrompt> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Background bg = pick(Background.values(), rnd);
      Position p = pick(Position.values(), rnd);
      Size size = pick(Size.values(), rnd);
      SceneObject c = spec.object(p, size);
      boolean anyFill = spec.anyFill();
      EvalPrompt prompt =
          switch (i % 5) {
            case 0 ->
                new EvalPrompt(
                    "a " + word, List.of(concept(c, anyFill, Attribute.CONCEPT)), null, true);
            case 1 ->
                new EvalPrompt(
                    "a " + word + " " + phrase(p),
                    List.of(concept(c, anyFill, Attribute.CONCEPT, Attribute.POSITION)),
                    null,
                    true);
            case 2 ->
                new EvalPrompt(
                    article("a " + size.words().get(0) + " " + word + " " + phrase(p)),
                    List.of(
                        concept(c, anyFill, Attribute.CONCEPT, Attribute.SIZE, Attribute.POSITION)),
                    null,
                    true);
            case 3 ->
                new EvalPrompt(
                    "a " + word + " on a " + bg.words().get(0) + " background",
                    List.of(concept(c, anyFill, Attribute.CONCEPT)),
                    bg,
                    true);
            default -> {
              SceneObject b = object(pick(aligned(p), rnd), rnd);
              String text =
                  article(
                      "a "
                          + word
                          + " "
                          + phrase(p)
                          + " and a "
                          + word(b.colour())
                          + " "
                          + b.shape().words().get(0)
                          + " "
                          + phrase(b.position()));
              yield new EvalPrompt(
                  text,
                  List.of(
                      concept(c, anyFill, Attribute.CONCEPT, Attribute.POSITION),
                      asked(b, Attribute.SHAPE, Attribute.COLOUR, Attribute.POSITION)),
                  null,
                  true);
            }
          };
      out.add(prompt);
    }
    return out;
  }

  private static EvalPrompt.Asked asked(SceneObject o, Attribute first, Attribute... rest) {
    return new EvalPrompt.Asked(o, EnumSet.of(first, rest));
  }

  private static EvalPrompt.Asked concept(
      SceneObject o, boolean anyFill, Attribute first, Attribute... rest) {
    return new EvalPrompt.Asked(o, EnumSet.of(first, rest), anyFill);
  }

  private static SceneObject object(Position p, SplittableRandom rnd) {
    return new SceneObject(
        pick(Shape.values(), rnd), pick(Colour.values(), rnd), p, pick(Size.values(), rnd));
  }

  private static Position[] aligned(Position p) {
    return Arrays.stream(Position.values()).filter(q -> q.alignedWith(p)).toArray(Position[]::new);
  }

  private static String word(Colour c) {
    return c.words().get(0);
  }

  private static String phrase(Position p) {
    return p.phrases().get(0);
  }

  private static String article(String text) {
    return text.replaceAll("\\ba (?=[aeiou])", "an ");
  }

  private static <T> T pick(T[] values, SplittableRandom rnd) {
    return values[rnd.nextInt(values.length)];
  }
}
