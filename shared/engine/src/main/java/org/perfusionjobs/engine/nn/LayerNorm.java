package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** Layer normalisation over the last axis with gain and bias. */
public final class LayerNorm extends Module {
  public final int dim;
  public final float eps;
  public final Parameter weight; // (dim)
  public final Parameter bias; // (dim)

  public LayerNorm(int dim, float eps) {
    this.dim = dim;
    this.eps = eps;
    this.weight = parameter("weight", new Shape(dim));
    this.bias = parameter("bias", new Shape(dim));
  }

  public NDArray forward(NDArray x) {
    return ai.djl.nn.norm.LayerNorm.layerNorm(x, new Shape(dim), weight.get(), bias.get(), eps)
        .singletonOrThrow();
  }
}
