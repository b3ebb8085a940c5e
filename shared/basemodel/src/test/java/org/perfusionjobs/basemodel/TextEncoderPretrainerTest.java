package org.perfusionjobs.basemodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.basemodel.TextEncoderPretrainer.Head;
import org.perfusionjobs.engine.clip.ClipTextConfig;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Caption;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Relation;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;
import org.perfusionjobs.world.TokenizerBuilder;
import org.perfusionjobs.world.World;

class TextEncoderPretrainerTest {
  @TempDir Path dir;

  @Test
  void labelsFollowWhatTheCaptionSaysWithUnsaidAsTheLastClass() {
    SceneObject star = new SceneObject(Shape.STAR, Colour.GREEN, Position.TOP, Size.SMALL);
    SceneObject square = new SceneObject(Shape.SQUARE, Colour.BLUE, Position.CENTRE, Size.LARGE);
    Caption one =
        new Caption(
            "a small star at the top",
            List.of(new Caption.Mention(star, false, true, true)),
            null,
            null);
    Caption two =
        new Caption(
            "a green star above a blue square on a sand background",
            List.of(
                new Caption.Mention(star, true, false, false),
                new Caption.Mention(square, true, false, false)),
            Relation.ABOVE,
            Background.SAND);
    int[][] l = TextEncoderPretrainer.labels(List.of(one, two));
    int colours = Colour.values().length;
    int sizes = Size.values().length;
    int positions = Position.values().length;
    assertEquals(star.shape().ordinal(), l[Head.FIRST_SHAPE.ordinal()][0]);
    assertEquals(colours, l[Head.FIRST_COLOUR.ordinal()][0]);
    assertEquals(Size.SMALL.ordinal(), l[Head.FIRST_SIZE.ordinal()][0]);
    assertEquals(Position.TOP.ordinal(), l[Head.FIRST_POSITION.ordinal()][0]);
    assertEquals(Shape.values().length, l[Head.SECOND_SHAPE.ordinal()][0]);
    assertEquals(Relation.values().length, l[Head.RELATION.ordinal()][0]);
    assertEquals(Background.values().length, l[Head.BACKGROUND.ordinal()][0]);

    assertEquals(Colour.GREEN.ordinal(), l[Head.FIRST_COLOUR.ordinal()][1]);
    assertEquals(sizes, l[Head.FIRST_SIZE.ordinal()][1]);
    assertEquals(positions, l[Head.FIRST_POSITION.ordinal()][1]);
    assertEquals(square.shape().ordinal(), l[Head.SECOND_SHAPE.ordinal()][1]);
    assertEquals(Colour.BLUE.ordinal(), l[Head.SECOND_COLOUR.ordinal()][1]);
    assertEquals(Relation.ABOVE.ordinal(), l[Head.RELATION.ordinal()][1]);
    assertEquals(Background.SAND.ordinal(), l[Head.BACKGROUND.ordinal()][1]);
    // Every label is a valid class of its head.
    for (Head h : Head.values()) {
      for (int v : l[h.ordinal()]) {
        assertTrue(v >= 0 && v < h.classes, h + ": " + v);
      }
    }
  }

  /**
   * A tiny encoder must learn to read captions: head accuracy above the best constant guess per
   * head.
   */
  @Test
  void aTinyEncoderLearnsToReadCaptions() throws Exception {
    World world = new World(0.3, 0, 0.3);
    TokenizerBuilder.write(TokenizerBuilder.build(world, 0, 2000), dir.resolve("tokenizer"));
    double constant =
        constantGuessAccuracy(TextEncoderPretrainer.labels(world.describedCaptions(99, 4000)));
    try (ClipTokenizer tok = ClipTokenizer.load(dir.resolve("tokenizer"));
        NDManager m = NDManager.newBaseManager()) {
      ClipTextModel te =
          new ClipTextModel(
              new ClipTextConfig(tok.vocabSize(), 32, 128, 2, 2, 77, "quick_gelu", 1e-5f));
      te.initRandom(m, DataType.FLOAT32, 1);
      List<TextEncoderPretrainer.StepResult> steps = new ArrayList<>();
      TextEncoderPretrainer.train(
          te,
          tok,
          world,
          new TextEncoderPretrainer.Options(120, 32, 3e-3f, 4),
          (step, r) -> steps.add(r));
      assertEquals(120, steps.size());
      double first = mean(steps.subList(0, 10), TextEncoderPretrainer.StepResult::loss);
      double last = mean(steps.subList(110, 120), TextEncoderPretrainer.StepResult::loss);
      double accuracy = mean(steps.subList(110, 120), TextEncoderPretrainer.StepResult::accuracy);
      System.out.printf(
          "TextEncoderPretrainerTest: loss %.3f -> %.3f, heads right %.1f%% (best constant guess"
              + " %.1f%%)%n",
          first, last, 100 * accuracy, 100 * constant);
      assertTrue(last < first / 2, "loss " + first + " -> " + last);
      assertTrue(
          accuracy > constant + 0.1,
          "heads right " + accuracy + ", best constant guess " + constant);
    }
  }

  private static double mean(
      List<TextEncoderPretrainer.StepResult> steps,
      ToDoubleFunction<TextEncoderPretrainer.StepResult> f) {
    return steps.stream().mapToDouble(f).average().orElseThrow();
  }

  /** Mean over heads of the share of the most frequent label. */
  private static double constantGuessAccuracy(int[][] labels) {
    double sum = 0;
    for (Head h : Head.values()) {
      int[] counts = new int[h.classes];
      for (int v : labels[h.ordinal()]) {
        counts[v]++;
      }
      sum += Arrays.stream(counts).max().orElseThrow() / (double) labels[h.ordinal()].length;
    }
    return sum / Head.values().length;
  }
}
