package org.perfusionjobs.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;
import org.perfusionjobs.world.World;

/** The confusion table counts every true object once, in the right row, column and size. */
class ShapeConfusionTest {
  @Test
  void countsReadsMissesAndPerSizeAccuracy() {
    List<Sample> samples = new World(0.5).samples(5, 300).toList();
    // Predictions made from the truth: stars read as circles, objects on the left not found,
    // everything else read right.
    List<ScenePrediction> preds = new ArrayList<>();
    int objects = 0;
    int stars = 0;
    int left = 0;
    int smallSquares = 0;
    int smallSquaresRight = 0;
    for (Sample s : samples) {
      List<ObjectPrediction> found = new ArrayList<>();
      for (SceneObject o : s.scene().objects()) {
        objects++;
        if (o.position() == Position.LEFT) {
          left++;
          continue;
        }
        if (o.shape() == Shape.STAR) {
          stars++;
        }
        if (o.shape() == Shape.SQUARE && o.size() == Size.SMALL) {
          smallSquares++;
          smallSquaresRight++;
        }
        Shape read = o.shape() == Shape.STAR ? Shape.CIRCLE : o.shape();
        found.add(new ObjectPrediction(o.position(), read, o.colour(), o.size(), o.pattern(), 0.9));
      }
      preds.add(new ScenePrediction(s.scene().background(), found));
    }
    ShapeConfusion c = ShapeConfusion.measure(samples, preds);
    int total = 0;
    int missed = 0;
    for (Shape t : Shape.values()) {
      for (int r = 0; r <= ShapeConfusion.MISSED; r++) {
        total += c.count(t, r);
      }
      missed += c.count(t, ShapeConfusion.MISSED);
      assertEquals(0, c.count(t, Shape.STAR.ordinal()), t + " read as star");
    }
    assertEquals(objects, total);
    assertEquals(left, missed);
    assertTrue(stars > 10 && left > 10, stars + " stars, " + left + " on the left");
    assertEquals(stars, c.count(Shape.STAR, Shape.CIRCLE.ordinal()));
    assertEquals(
        0.0, c.accuracy(Shape.STAR, Size.MEDIUM) + c.accuracy(Shape.STAR, Size.LARGE), 1e-12);
    // Small squares: all read right except the ones on the left.
    int smallSquaresLeft =
        c.counts()[Size.SMALL.ordinal()][Shape.SQUARE.ordinal()][ShapeConfusion.MISSED];
    assertEquals(
        smallSquaresRight / (double) (smallSquares + smallSquaresLeft),
        c.accuracy(Shape.SQUARE, Size.SMALL),
        1e-12);

    String table = c.format();
    String[] lines = table.split("\n");
    assertEquals(1 + Shape.values().length, lines.length, table);
    assertTrue(lines[0].contains("missed") && lines[0].contains("medium"), lines[0]);
    assertTrue(lines[4].startsWith("star") && lines[4].contains("0%"), lines[4]);
  }

  @Test
  void samplesAndPredictionsMustPair() {
    List<Sample> samples = new World().samples(1, 2).toList();
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> ShapeConfusion.measure(samples, List.of()));
    assertTrue(e.getMessage().contains("samples (2) and predictions (0)"), e.getMessage());
  }
}
