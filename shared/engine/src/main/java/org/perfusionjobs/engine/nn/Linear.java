package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** {@code y = x W' + b} over the last axis, keys {@code weight} and (optionally) {@code bias}. */
public final class Linear extends Module {
  public final int inFeatures;
  public final int outFeatures;
  public final Parameter weight; // (out, in)
  public final Parameter bias; // (out) or null
  private LinearDelta delta; // null: the plain layer

  public Linear(int inFeatures, int outFeatures, boolean bias) {
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = parameter("weight", new Shape(outFeatures, inFeatures));
    this.bias = bias ? parameter("bias", new Shape(outFeatures)) : null;
  }

  public NDArray forward(NDArray x) {
    NDArray y =
        ai.djl.nn.core.Linear.linear(x, weight.get(), bias == null ? null : bias.get())
            .singletonOrThrow();
    if (FlopCounter.enabled()) {
      FlopCounter.addMultiplyAdds(y.size() * inFeatures);
    }
    LinearDelta d = delta;
    return d == null ? y : y.add(d.apply(x));
  }

  /** The additive output term now in force, or null. */
  public LinearDelta delta() {
    return delta;
  }

  /**
   * Sets (or, with null, removes) the additive output term; returns the previous one so that a
   * caller can put it back ({@link WeightEdits} installs and removes them per forward pass).
   */
  public LinearDelta setDelta(LinearDelta d) {
    LinearDelta previous = delta;
    delta = d;
    return previous;
  }
}
