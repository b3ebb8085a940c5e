package org.perfusionjobs.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The core's weight-edit hook on a two-layer module: additive Linear terms and swapped parameters.
 */
class WeightEditsTest {

  static final class Two extends Module {
    final Linear a = child("a", new Linear(6, 5, true));
    final Linear b = child("b", new Linear(5, 3, false));

    NDArray forward(NDArray x) {
      return b.forward(a.forward(x));
    }
  }

  /**
   * A rank-2 term x A' B' equals the layer with weight W + B A, to 1e-5 (fp32 rounding of 6-term
   * sums).
   */
  @Test
  void lowRankTermEqualsTheMergedWeight() {
    try (NDManager m = NDManager.newBaseManager()) {
      Two net = new Two();
      net.initRandom(m, DataType.FLOAT32, 3);
      NDArray x = m.randomNormal(new Shape(4, 7, 6));
      NDArray down = m.randomNormal(new Shape(2, 6));
      NDArray up = m.randomNormal(new Shape(5, 2));
      NDArray plain = net.forward(x);
      NDArray edited;
      WeightEdits e =
          new WeightEdits(
              Map.of("a", in -> in.matMul(down.transpose()).matMul(up.transpose())), Map.of());
      try (var installed = e.install(net)) {
        edited = net.forward(x);
      }
      NDArray merged;
      NDArray w = net.a.weight.get();
      try (var installed =
          new WeightEdits(Map.of(), Map.of("a.weight", w.add(up.matMul(down)))).install(net)) {
        merged = net.forward(x);
      }
      assertTrue(edited.sub(merged).abs().max().getFloat() < 1e-5f, "LoRA term vs merged weight");
      assertTrue(
          edited.sub(plain).abs().max().getFloat() > 1e-2f, "the term must change the output");
      assertSame(w, net.a.weight.get(), "the original array is back");
      assertNull(net.a.delta(), "the term is gone");
      assertArrayEquals(
          plain.toFloatArray(),
          net.forward(x).toFloatArray(),
          "after closing, bit-identical to before");
    }
  }

  /**
   * Installations nest, each restoring what it found; a wrong key fails before anything changes.
   */
  @Test
  void installationsNestAndBadEditsChangeNothing() {
    try (NDManager m = NDManager.newBaseManager()) {
      Two net = new Two();
      net.initRandom(m, DataType.FLOAT32, 4);
      NDArray w = net.b.weight.get();
      NDArray w1 = m.ones(w.getShape());
      NDArray w2 = m.zeros(w.getShape());
      try (var outer = new WeightEdits(Map.of(), Map.of("b.weight", w1)).install(net)) {
        try (var inner = new WeightEdits(Map.of(), Map.of("b.weight", w2)).install(net)) {
          assertSame(w2, net.b.weight.get());
        }
        assertSame(w1, net.b.weight.get());
      }
      assertSame(w, net.b.weight.get());
      assertThrows(
          IllegalArgumentException.class,
          () -> new WeightEdits(Map.of("a", in -> in), Map.of("c.weight", w1)).install(net));
      assertThrows(
          IllegalArgumentException.class,
          () -> new WeightEdits(Map.of(), Map.of("a.weight", w1)).install(net),
          "wrong shape");
      assertNull(net.a.delta());
      assertSame(w, net.b.weight.get());
    }
  }
}
