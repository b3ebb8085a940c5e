package org.perfusionjobs.evaluator;

import java.util.List;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/**
 * How the evaluator reads each true shape, per size: {@code counts[size][truth][read]}, where the
 * last read column counts objects not found at their cell. Tells which shapes a VAE (or a model)
 * loses and what they turn into, which one overall shape figure cannot.
 */
public record ShapeConfusion(int[][][] counts) {
  /** Index of the "not found at its cell" column. */
  public static final int MISSED = Shape.values().length;

  public static ShapeConfusion measure(List<Sample> samples, List<ScenePrediction> predictions) {
    if (samples.size() != predictions.size()) {
      throw new IllegalArgumentException(
          "samples ("
              + samples.size()
              + ") and predictions ("
              + predictions.size()
              + ") differ in number");
    }
    int[][][] c = new int[Size.values().length][Shape.values().length][Shape.values().length + 1];
    for (int i = 0; i < samples.size(); i++) {
      ScenePrediction p = predictions.get(i);
      for (SceneObject o : samples.get(i).scene().objects()) {
        int read = p.at(o.position()).map(op -> op.shape().ordinal()).orElse(MISSED);
        c[o.size().ordinal()][o.shape().ordinal()][read]++;
      }
    }
    return new ShapeConfusion(c);
  }

  /** Objects of {@code truth} (all sizes) read as {@code read}. */
  public int count(Shape truth, int read) {
    int n = 0;
    for (int[][] bySize : counts) {
      n += bySize[truth.ordinal()][read];
    }
    return n;
  }

  /** Share of objects of {@code truth} of size {@code size} read right; NaN when there are none. */
  public double accuracy(Shape truth, Size size) {
    int[] row = counts[size.ordinal()][truth.ordinal()];
    int total = 0;
    for (int v : row) {
      total += v;
    }
    return total == 0 ? Double.NaN : row[truth.ordinal()] / (double) total;
  }

  /** A table: one row per true shape, what it was read as (all sizes), then right per size. */
  public String format() {
    StringBuilder sb = new StringBuilder(String.format("%-9s", "true\\read"));
    for (Shape s : Shape.values()) {
      sb.append(String.format("%9s", s.words().get(0)));
    }
    sb.append(String.format("%9s", "missed"));
    for (Size z : Size.values()) {
      sb.append(String.format("%9s", z.name().toLowerCase()));
    }
    sb.append('\n');
    for (Shape t : Shape.values()) {
      sb.append(String.format("%-9s", t.words().get(0)));
      for (int r = 0; r <= MISSED; r++) {
        sb.append(String.format("%9d", count(t, r)));
      }
      for (Size z : Size.values()) {
        double a = accuracy(t, z);
        sb.append(Double.isNaN(a) ? String.format("%9s", "-") : String.format("%8.0f%%", 100 * a));
      }
      sb.append('\n');
    }
    return sb.toString();
  }
}
