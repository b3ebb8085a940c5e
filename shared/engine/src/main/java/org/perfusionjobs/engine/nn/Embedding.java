package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** A lookup table, key {@code weight} of shape (num, dim). */
public final class Embedding extends Module {
  public final int num;
  public final int dim;
  public final Parameter weight; // (num, dim)

  public Embedding(int num, int dim) {
    this.num = num;
    this.dim = dim;
    this.weight = parameter("weight", new Shape(num, dim));
  }

  /** ids: integer tensor of any shape → shape + (dim). */
  public NDArray forward(NDArray ids) {
    NDArray idx = ids.toType(DataType.INT64, false);
    NDArray out = weight.get().get(idx);
    // An op on the weight would leave its result in the weights' long-lived manager.
    out.attach(idx.getManager());
    return out;
  }
}
