package org.perfusionjobs.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import org.perfusionjobs.engine.nn.Scalars;

/**
 * Loss helpers: classification for the project's small trained heads (evaluator, text encoder
 * pre-training), per-pixel weights for the generative trainers.
 */
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
    NDArray picked =
        logProbs.mul(logProbs.getManager().create(onehot, new Shape(n, classes))).sum();
    return Scalars.mul(picked, -1f / Math.max(1, count));
  }

  /**
   * The mean of a per-pixel error (B, C, H, W), weighted by {@code weights} (B, 1, H, W) or plain
   * when null: mean(w * err) / mean(w), so the weights move where the loss looks, not its scale.
   */
  static NDArray weightedMean(NDArray err, NDArray weights, String what) {
    requirePixelWeights(weights, err.getShape(), what);
    return weights == null ? err.mean() : err.mul(weights).mean().div(weights.mean());
  }

  /**
   * Checks that per-pixel loss weights fit a batch: (B, 1, H, W) for {@code target} (B, C, H, W);
   * null passes. The message names both shapes.
   */
  static void requirePixelWeights(NDArray weights, Shape target, String what) {
    if (weights == null) {
      return;
    }
    Shape w = weights.getShape();
    if (w.dimension() != 4
        || w.get(0) != target.get(0)
        || w.get(1) != 1
        || w.get(2) != target.get(2)
        || w.get(3) != target.get(3)) {
      throw new IllegalArgumentException(
          what + " shape " + w + " must be (B, 1, H, W) for " + target);
    }
  }
}
