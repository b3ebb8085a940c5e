package org.perfusionjobs.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;

class EvaluatorTrainerTest {
  @Test
  void shortTrainingLowersTheLossAndASavedEvaluatorPredictsTheSame(@TempDir Path dir)
      throws Exception {
    List<Float> losses = new ArrayList<>();
    List<Sample> probe = new World(0.5, 0.3).samples(77, 24).toList();
    try (Evaluator ev = Evaluator.untrained(3)) {
      EvaluatorTrainer.train(
          ev, EvaluatorTrainer.Options.defaults().withSteps(80), (step, loss) -> losses.add(loss));
      assertEquals(80, losses.size());
      double first =
          losses.subList(0, 10).stream().mapToDouble(Float::doubleValue).average().orElseThrow();
      double last =
          losses.subList(70, 80).stream().mapToDouble(Float::doubleValue).average().orElseThrow();
      // Six softmax heads start near sum(log classes) ~ 7.0; 80 steps learn presence and background
      // at least.
      assertTrue(first > 4 && last < 0.6 * first, "loss " + first + " -> " + last);
      ev.save(dir, Map.of("steps", 80));
      List<ScenePrediction> before = ev.predict(probe.stream().map(Sample::image).toList());
      try (Evaluator back = Evaluator.load(dir)) {
        assertEquals(before, back.predict(probe.stream().map(Sample::image).toList()));
      }
    }
  }

  /**
   * An evaluator of every hidden pattern, trained briefly with crowded scenes: its pattern head has
   * six classes, the saved config lists them, it loads back predicting the same, and training an
   * evaluator on a pattern it does not know is refused by name. The shipped (world-v1) evaluator,
   * whose config lists no patterns, loads as plain and stripes.
   */
  @Test
  void anEvaluatorOfEveryHiddenPatternSavesItsPatternsAndLoadsBack(@TempDir Path dir)
      throws Exception {
    List<Sample> probe = new World(0.5, 0.5, 0, Pattern.hidden()).samples(78, 16).toList();
    try (Evaluator ev = Evaluator.untrained(4, Pattern.hidden())) {
      assertEquals(6, ev.patterns().size());
      List<Float> losses = new ArrayList<>();
      EvaluatorTrainer.train(
          ev,
          EvaluatorTrainer.Options.defaults().withSteps(30).withPatterns(Pattern.hidden(), 0.2),
          (step, loss) -> losses.add(loss));
      assertEquals(30, losses.size());
      assertTrue(losses.stream().allMatch(Float::isFinite), losses.toString());
      ev.save(dir, Map.of("steps", 30));
      assertTrue(Files.readString(dir.resolve("config.json")).contains("\"halves\""));
      List<ScenePrediction> before = ev.predict(probe.stream().map(Sample::image).toList());
      try (Evaluator back = Evaluator.load(dir)) {
        assertEquals(Pattern.hidden().size() + 1, back.patterns().size());
        assertEquals(before, back.predict(probe.stream().map(Sample::image).toList()));
      }
    }
    try (Evaluator striped = Evaluator.untrained(5)) {
      var e =
          Assertions.assertThrows(
              IllegalArgumentException.class,
              () ->
                  EvaluatorTrainer.train(
                      striped,
                      EvaluatorTrainer.Options.defaults()
                          .withSteps(1)
                          .withPatterns(List.of(Pattern.DOTS), 0),
                      (s, l) -> {}));
      assertTrue(
          e.getMessage().startsWith("pattern: ") && e.getMessage().contains("DOTS"),
          e.getMessage());
    }
    try (Evaluator shipped = Evaluator.load(ShippedEvaluatorTest.shipped("world-v1"))) {
      assertEquals(List.of(Pattern.PLAIN, Pattern.STRIPES), shipped.patterns());
    }
  }

  @Test
  void loadRejectsAFolderOfSomethingElse(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("config.json"), "{\"_class_name\": \"UNet2DConditionModel\"}");
    var e = Assertions.assertThrows(IOException.class, () -> Evaluator.load(dir));
    assertTrue(
        e.getMessage().contains("_class_name") && e.getMessage().contains("UNet2DConditionModel"),
        e.getMessage());
  }
}
