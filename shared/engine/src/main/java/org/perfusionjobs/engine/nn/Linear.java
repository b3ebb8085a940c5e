package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** {@code y = x W' + b} over the last axis, keys {@code weight} and (optionally) {@code bias}. */
public final class Linear extends Module {
  public final int inFeatures;
  public final int outFeatures;
  public final Parameter weight; // (out, in)
  public final Parameter bias; // (out) or null

  public Linear(int inFeatures, int outFeatures, boolean bias) {
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = parameter("weight", new Shape(outFeatures, inFeatures));
    this.bias = bias ? parameter("bias", new Shape(outFeatures)) : null;
  }

  public NDArray forward(NDArray x) {
    NDArray y = ai.djl.nn.core.Linear.linear(x, weight.get(), bias == null ? null : bias.get()).singletonOrThrow();
    if (FlopCounter.enabled()) {
      FlopCounter.addMultiplyAdds(y.size() * inFeatures);
    }
    return y;
  }
}
