package org.perfusionjobs.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.nn.GroupNorm;
import org.perfusionjobs.engine.nn.Parameter;

class AdamWTest {

  /**
   * Against the textbook AdamW (Loshchilov and Hutter; PyTorch's torch.optim.AdamW) computed in
   * double precision in plain Java, on loss = sum(0.5 c w^2 + a w) over two parameters with
   * different rate scales: the gradient c w + a changes every step, so moments, bias corrections,
   * weight decay and the reset of gradients between steps all show. float32 rounding over 8 steps
   * of size about lr keeps the error near 1e-7; the tolerance is 2e-6.
   */
  @Test
  void matchesTextbookAdamWInDoublePrecision() {
    float lr = 0.05f;
    float wd = 0.1f;
    float[] scale = {1f, 0.25f};
    try (NDManager m = NDManager.newBaseManager()) {
      m.getEngine().setRandomSeed(3);
      GroupNorm holder = new GroupNorm(1, 5, 1e-5f); // only as two named (5) parameters
      holder.weight.set(m.randomNormal(0f, 1f, new Shape(5), DataType.FLOAT32));
      holder.bias.set(m.randomNormal(0f, 1f, new Shape(5), DataType.FLOAT32));
      List<Parameter> params = List.of(holder.weight, holder.bias);
      float[][] c = {{0.5f, 1f, 2f, 0.1f, 3f}, {1f, 0.2f, 0.7f, 1.5f, 0.05f}};
      float[][] a = {{0.3f, -0.2f, 0.1f, -1f, 0.5f}, {-0.4f, 0.9f, 0f, 0.2f, -0.05f}};
      float[][] halfC = new float[2][5];
      for (int p = 0; p < 2; p++) {
        for (int i = 0; i < 5; i++) {
          halfC[p][i] =
              c[p][i]
                  / 2; // exact in float: no Number constant under autograd (docs/decisions.md 7)
        }
      }
      double[][] w = new double[2][];
      double[][] mm = new double[2][5];
      double[][] vv = new double[2][5];
      for (int p = 0; p < 2; p++) {
        float[] f = params.get(p).get().toFloatArray();
        w[p] = new double[5];
        for (int i = 0; i < 5; i++) {
          w[p][i] = f[i];
        }
      }
      double maxErr = 0;
      try (AdamW adam = new AdamW(params, scale, lr, wd)) {
        for (int t = 1; t <= 8; t++) {
          try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray loss = null;
            for (int p = 0; p < 2; p++) {
              NDArray x = params.get(p).get();
              NDArray term = x.square().mul(m.create(halfC[p])).add(x.mul(m.create(a[p]))).sum();
              loss = loss == null ? term : loss.add(term);
            }
            gc.backward(loss);
          }
          adam.step();
          for (int p = 0; p < 2; p++) {
            double rate = lr * scale[p];
            for (int i = 0; i < 5; i++) {
              double g = c[p][i] * w[p][i] + a[p][i];
              mm[p][i] = 0.9 * mm[p][i] + 0.1 * g;
              vv[p][i] = 0.999 * vv[p][i] + 0.001 * g * g;
              double mHat = mm[p][i] / (1 - Math.pow(0.9, t));
              double vHat = vv[p][i] / (1 - Math.pow(0.999, t));
              w[p][i] = w[p][i] * (1 - rate * wd) - rate * mHat / (Math.sqrt(vHat) + 1e-8);
            }
            float[] got = params.get(p).get().toFloatArray();
            for (int i = 0; i < 5; i++) {
              maxErr = Math.max(maxErr, Math.abs(got[i] - w[p][i]));
            }
          }
        }
        assertEquals(8, adam.steps());
      }
      System.out.printf("AdamWTest: max |w - w_textbook| over 8 steps %.3g%n", maxErr);
      assertTrue(maxErr < 2e-6, "AdamW differs from the textbook update by " + maxErr);
    }
  }

  /**
   * The update writes the weights' storage in place and hands each parameter a new handle on it, so
   * arrays a module cached from its weights (GroupNorm's reshaped gain and bias) must not go stale:
   * after two steps the module computes what a fresh module with the same weights computes.
   */
  @Test
  void modulesSeeTheUpdatedWeights() {
    try (NDManager m = NDManager.newBaseManager()) {
      m.getEngine().setRandomSeed(5);
      GroupNorm gn = new GroupNorm(2, 4, 1e-5f);
      gn.initRandom(m, DataType.FLOAT32, 9);
      NDArray x = m.randomNormal(new Shape(2, 4, 3, 3));
      NDArray target = m.randomNormal(new Shape(2, 4, 3, 3));
      float[] before = gn.weight.get().toFloatArray();
      try (AdamW adam = new AdamW(List.of(gn.weight, gn.bias), 0.1f, 0f)) {
        for (int step = 0; step < 2; step++) {
          try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(gn.forward(x).sub(target).square().mean());
          }
          adam.step();
        }
      }
      float[] after = gn.weight.get().toFloatArray();
      double moved = 0;
      for (int i = 0; i < after.length; i++) {
        moved = Math.max(moved, Math.abs(after[i] - before[i]));
      }
      assertTrue(
          moved > 0.1, "two steps at lr 0.1 must move the gain by about 0.2, moved " + moved);
      GroupNorm fresh = new GroupNorm(2, 4, 1e-5f);
      fresh.weight.set(gn.weight.get().duplicate());
      fresh.bias.set(gn.bias.get().duplicate());
      float diff = gn.forward(x).sub(fresh.forward(x)).abs().max().getFloat();
      assertTrue(
          diff < 1e-6f, "the trained GroupNorm computes with stale weights: max diff " + diff);
    }
  }

  /**
   * A run interrupted after 3 steps and resumed from the saved weights, moments and step count (as
   * the Perfusion trainer's checkpoints do) ends where the uninterrupted 6-step run ends; a fresh
   * optimiser on the saved weights (moments and step count lost) would not.
   */
  @Test
  void resumeFromSavedMomentsContinuesTheSameRun() {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] start = {0.5f, -1f, 2f, 0.25f};
      float[] straight = quadraticRun(m, start, 6, null);
      float[][] saved = new float[3][];
      Parameter p = Parameter.of("w", m.create(start));
      try (AdamW adam = new AdamW(List.of(p), 0.05f, 0.1f)) {
        descend(m, p, adam, 3);
        saved[0] = p.get().toFloatArray();
        saved[1] = adam.firstMoment(0).toFloatArray();
        saved[2] = adam.secondMoment(0).toFloatArray();
      }
      float[] resumed = quadraticRun(m, saved[0], 3, new float[][] {saved[1], saved[2]});
      float[] forgotten = quadraticRun(m, saved[0], 3, null);
      for (int i = 0; i < start.length; i++) {
        assertEquals(straight[i], resumed[i], 1e-6f, "element " + i);
      }
      double gap = 0;
      for (int i = 0; i < start.length; i++) {
        gap = Math.max(gap, Math.abs(straight[i] - forgotten[i]));
      }
      assertTrue(gap > 1e-3, "restarting the moments must change the result, gap " + gap);
    }
  }

  /**
   * Steps of AdamW (lr 0.05, wd 0.1) on loss = sum(w^2 - w); {@code moments}: resume after 3 steps
   * with them, null: a fresh run.
   */
  private static float[] quadraticRun(NDManager m, float[] start, int steps, float[][] moments) {
    Parameter p = Parameter.of("w", m.create(start));
    try (AdamW adam = new AdamW(List.of(p), 0.05f, 0.1f)) {
      if (moments != null) {
        adam.resume(3, List.of(moments[0]), List.of(moments[1]));
      }
      descend(m, p, adam, steps);
      return p.get().toFloatArray();
    }
  }

  private static void descend(NDManager m, Parameter p, AdamW adam, int steps) {
    for (int t = 0; t < steps; t++) {
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        NDArray w = p.get();
        gc.backward(w.square().sub(w).sum());
      }
      adam.step();
    }
  }
}
