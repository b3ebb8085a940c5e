package org.perfusionjobs.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

/**
 * Constants kept by autograd must survive garbage collection between forward and backward (DJL's
 * mul(Number) does not guarantee that; see Scalars).
 */
class ScalarsTest {

  @Test
  void gradientsThroughConstantsSurviveGarbageCollection() throws Exception {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.create(new float[] {0.5f, -1f, 2f}, new Shape(3));
      x.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        NDArray y = Scalars.mul(x, 3f).add(Activations.silu(x)).add(Activations.quickGelu(x));
        for (int i = 0; i < 3; i++) {
          System.gc();
          Thread.sleep(20);
        }
        gc.backward(y.sum());
      }
      float[] g = x.getGradient().toFloatArray();
      float[] expected = new float[3];
      float[] xs = {0.5f, -1f, 2f};
      for (int i = 0; i < 3; i++) {
        double s = 1 / (1 + Math.exp(-xs[i]));
        double q = 1 / (1 + Math.exp(-1.702 * xs[i]));
        expected[i] = (float) (3 + s + xs[i] * s * (1 - s) + q + 1.702 * xs[i] * q * (1 - q));
      }
      assertArrayEquals(expected, g, 1e-5f);
    }
  }
}
