package org.perfusionjobs.evaluator;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.World;

/**
 * The evaluators committed under models/ read fresh world images at 98% or better, per attribute
 * (issue 5's goal; issue 18's for world-v2's, which reads all five hidden patterns and counts up to
 * four objects). Seeds that neither the training stream nor the command's own held-out checks drew.
 */
class ShippedEvaluatorTest {
  static Path shipped(String model) {
    return Path.of(System.getProperty("perfusion.models", "models"))
        .resolve(model)
        .resolve("evaluator");
  }

  @Test
  void worldV1sEvaluatorReadsPlainAndStripedObjects() throws Exception {
    try (Evaluator ev = Evaluator.load(shipped("world-v1"))) {
      assertAtLeast98(
          Map.of(
              "plain", Accuracy.measure(ev, new World(), 31_337, 600),
              "striped", Accuracy.measure(ev, new World(0.35, 0.25), 31_338, 600)));
    }
  }

  @Test
  void worldV2sEvaluatorReadsEveryPatternAndCrowdedScenes() throws Exception {
    List<Pattern> five =
        List.of(Pattern.STRIPES, Pattern.DOTS, Pattern.CHECKS, Pattern.RING, Pattern.HALVES);
    try (Evaluator ev = Evaluator.load(shipped("world-v2"))) {
      assertTrue(ev.patterns().containsAll(five), "reads " + ev.patterns());
      assertAtLeast98(
          Map.of(
              "plain", Accuracy.measure(ev, new World(), 31_337, 400),
              "half patterned", Accuracy.measure(ev, new World(0.35, 0.5, 0, five), 31_338, 400),
              "every object patterned",
                  Accuracy.measure(ev, new World(0.35, 1, 0, five), 31_339, 400),
              "3-4 objects",
                  Accuracy.measure(ev, new CrowdedScenes(3, 4, 0.5, five).samples(31_340, 200))));
    }
  }

  private static void assertAtLeast98(Map<String, Accuracy> runs) {
    runs.forEach(
        (name, a) ->
            a.byAttribute()
                .forEach(
                    (k, v) ->
                        assertTrue(
                            v >= 0.98,
                            name
                                + ": "
                                + k
                                + " accuracy "
                                + v
                                + " on "
                                + a.images()
                                + " images: "
                                + a.byAttribute())));
  }
}
