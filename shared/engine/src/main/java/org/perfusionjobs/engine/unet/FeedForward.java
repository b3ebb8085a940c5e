package org.perfusionjobs.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import org.perfusionjobs.engine.nn.Activations;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * The transformer block's GEGLU feed-forward: {@code net.0.proj} maps C to 2 x 4C, the first half
 * is the value and the second half the gate through exact GELU; {@code net.2} maps 4C back to C.
 * ({@code net.1} is dropout and has no weights.)
 */
public final class FeedForward extends Module {
  public final Linear proj; // (8C, C): net.0.proj
  public final Linear out; // (C, 4C): net.2

  FeedForward(int dim) {
    ModuleList<Module> net = child("net", new ModuleList<>());
    Geglu geglu = net.add(new Geglu(dim, 4 * dim));
    net.add(new Dropout());
    this.proj = geglu.proj;
    this.out = net.add(new Linear(4 * dim, dim, true));
  }

  /** x: (B, N, C) → (B, N, C). */
  public NDArray forward(NDArray x) {
    try (BlockScope s = BlockScope.open(x)) {
      NDArray h = proj.forward(x); // (B, N, 8C): the largest array of the block
      NDList parts = h.split(2, h.getShape().dimension() - 1);
      NDArray gated = BlockScope.consume(Activations.gelu(parts.get(1)), parts.get(0)::mul);
      BlockScope.release(h);
      parts.forEach(BlockScope::release);
      return s.keep(BlockScope.consume(gated, out::forward));
    }
  }

  static final class Geglu extends Module {
    final Linear proj;

    Geglu(int in, int inner) {
      this.proj = child("proj", new Linear(in, 2 * inner, true));
    }
  }

  /** Placeholder for torch's weightless Dropout, keeping the indices of {@code net} aligned. */
  static final class Dropout extends Module {}
}
