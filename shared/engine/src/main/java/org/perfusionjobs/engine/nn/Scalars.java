package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Multiplication by a constant that is safe under autograd. DJL's {@code mul(Number)} wraps the
 * constant in a temporary tensor backed by a Java buffer and closes it right away; autograd keeps
 * that tensor for the backward pass, and once the garbage collector frees the buffer the gradient
 * reads freed memory (seen as NaN gradients, depending on GC timing). Here the constant is a tensor
 * that libtorch allocates and reference-counts itself.
 */
public final class Scalars {
  private Scalars() {}

  public static NDArray mul(NDArray x, float s) {
    NDArray c = x.getManager().full(new Shape(), s, x.getDataType());
    if (!c.getDevice().equals(x.getDevice())) {
      c = c.toDevice(x.getDevice(), false);
    }
    return x.mul(c);
  }
}
