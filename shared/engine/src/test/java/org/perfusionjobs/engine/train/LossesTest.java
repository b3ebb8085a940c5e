package org.perfusionjobs.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class LossesTest {
  /** Against the definition computed by hand: -mean over counted rows of log p(label). */
  @Test
  void meanNllAveragesTheLabelsLogProbabilityOverCountedRows() {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] logits = {1f, 2f, 0.5f, -1f, 0f, 3f, 2f, 2f, 2f};
      NDArray logp = m.create(logits, new Shape(3, 3)).logSoftmax(1);
      int[] labels = {1, 2, 0};
      double[] nll = new double[3];
      for (int r = 0; r < 3; r++) {
        double z = 0;
        for (int c = 0; c < 3; c++) {
          z += Math.exp(logits[r * 3 + c]);
        }
        nll[r] = Math.log(z) - logits[r * 3 + labels[r]];
      }
      assertEquals(
          (nll[0] + nll[1] + nll[2]) / 3, Losses.meanNll(logp, labels, null).getFloat(), 1e-6);
      assertEquals(
          (nll[0] + nll[2]) / 2,
          Losses.meanNll(logp, labels, new float[] {1, 0, 1}).getFloat(),
          1e-6);
      assertEquals(0f, Losses.meanNll(logp, labels, new float[] {0, 0, 0}).getFloat(), 0f);
    }
  }
}
