package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;

/**
 * An additive term of a {@link Linear} layer's output, computed from its input at forward time:
 * {@code y = x W' + b + delta(x)}. How a low-rank weight update ({@code delta(x) = s x A' B'})
 * reaches a projection without touching its weights. The core knows no method that makes one.
 */
@FunctionalInterface
public interface LinearDelta {

  /**
   * @param x (..., in) the layer's input
   * @return (..., out) what is added to the layer's output
   */
  NDArray apply(NDArray x);
}
