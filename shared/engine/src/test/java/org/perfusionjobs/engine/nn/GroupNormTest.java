package org.perfusionjobs.engine.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class GroupNormTest {

  /** Against an independent composition: per-group mean and biased variance, then the affine. */
  @Test
  void matchesDirectComputation() {
    try (NDManager m = NDManager.newBaseManager()) {
      m.getEngine().setRandomSeed(7);
      GroupNorm gn = new GroupNorm(4, 8, 1e-5f);
      gn.weight.set(m.randomNormal(1f, 0.1f, new Shape(8), DataType.FLOAT32));
      gn.bias.set(m.randomNormal(0f, 0.1f, new Shape(8), DataType.FLOAT32));
      NDArray x = m.randomNormal(0.5f, 2f, new Shape(2, 8, 5, 3), DataType.FLOAT32);

      NDArray g = x.reshape(2, 4, -1);
      NDArray mean = g.mean(new int[] {2}, true);
      NDArray var = g.sub(mean).square().mean(new int[] {2}, true);
      NDArray expected =
          g.sub(mean)
              .div(var.add(1e-5f).sqrt())
              .reshape(2, 8, 5, 3)
              .mul(gn.weight.get().reshape(1, 8, 1, 1))
              .add(gn.bias.get().reshape(1, 8, 1, 1));

      NDArray actual = gn.forward(x);
      assertEquals(x.getShape(), actual.getShape());
      float maxDiff = actual.sub(expected).abs().max().getFloat();
      assertTrue(maxDiff < 1e-5f, "max diff " + maxDiff);
    }
  }

  /**
   * A weight override that lives in a request's manager (WeightEdits, e.g. a DreamBooth UNet) must
   * not leave anything behind that dies with that manager: after the request, the layer with its
   * own weights again gives what it gave before (DreamBooth's eval failed on its second prompt).
   */
  @Test
  void aClosedRequestsWeightOverrideLeavesTheLayerWorking() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray w = m.randomNormal(1f, 0.1f, new Shape(8), DataType.FLOAT32);
      GroupNorm gn = new GroupNorm(4, 8, 1e-5f);
      gn.weight.set(w);
      gn.bias.set(m.zeros(new Shape(8)));
      GroupNorm reference = new GroupNorm(4, 8, 1e-5f);
      reference.weight.set(w.duplicate());
      reference.bias.set(m.zeros(new Shape(8)));
      NDArray x = m.randomNormal(0.5f, 2f, new Shape(2, 8, 5, 3), DataType.FLOAT32);
      try (NDManager request = m.newSubManager()) {
        // The layer's first call ever runs with the override in place.
        NDArray previous = gn.weight.swap(request.ones(new Shape(8)));
        gn.forward(x);
        gn.weight.swap(previous);
      }
      float[] expected = reference.forward(x).toFloatArray();
      float[] after = gn.forward(x).toFloatArray();
      for (int i = 0; i < expected.length; i++) {
        assertEquals(expected[i], after[i], 0f, "element " + i);
      }
    }
  }

  @Test
  void rejectsIndivisibleChannels() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new GroupNorm(3, 8, 1e-5f));
    assertTrue(e.getMessage().contains("8") && e.getMessage().contains("3"), e.getMessage());
  }
}
