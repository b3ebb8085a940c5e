package org.perfusionjobs.evaluator;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.world.World;

/**
 * The evaluator committed under models/ reads fresh world images at 98% or better, per attribute
 * (issue 5's goal).
 */
class ShippedEvaluatorTest {
  static Path shipped() {
    return Path.of(System.getProperty("perfusion.models", "models"))
        .resolve("world-v1")
        .resolve("evaluator");
  }

  @Test
  void atLeast98PercentPerAttributeOnFreshImages() throws Exception {
    // Seeds the training stream and the command's own held-out check never drew.
    try (Evaluator ev = Evaluator.load(shipped())) {
      Accuracy plain = Accuracy.measure(ev, new World(), 31_337, 600);
      Accuracy striped = Accuracy.measure(ev, new World(0.35, 0.25), 31_338, 600);
      for (Accuracy a : new Accuracy[] {plain, striped}) {
        a.byAttribute()
            .forEach(
                (k, v) ->
                    assertTrue(
                        v >= 0.98,
                        k
                            + " accuracy "
                            + v
                            + " on "
                            + a.images()
                            + " images: "
                            + a.byAttribute()));
      }
    }
  }
}
