package org.perfusionjobs.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import org.perfusionjobs.engine.nn.Scalars;

/** Classification losses for the project's small trained heads (evaluator, text encoder pre-training). */
public final class Losses {
  private Losses() {}

  /**
   * Mean negative log-likelihood of {@code labels} under {@code logProbs} (B, C), over the rows
   * whose weight is above 0 ({@code rowWeights} null: every row); 0 when no row counts.
   */
  public static NDArray meanNll(NDArray logProbs, int[] labels, float[] rowWeights) {
    int n = (int) logProbs.getShape().get(0);
    int classes = (int) logProbs.getShape().get(1);
    float[] onehot = new float[n * classes];
    int count = 0;
    for (int r = 0; r < n; r++) {
      if (rowWeights == null || rowWeights[r] > 0) {
        onehot[r * classes + labels[r]] = 1;
        count++;
      }
    }
    NDArray picked = logProbs.mul(logProbs.getManager().create(onehot, new Shape(n, classes))).sum();
    return Scalars.mul(picked, -1f / Math.max(1, count));
  }
}
