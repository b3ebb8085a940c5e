package org.perfusionjobs.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import java.util.ArrayList;
import java.util.List;
import org.perfusionjobs.engine.nn.Parameter;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter) over a module's {@link Parameter}s,
 * following the pattern that is safe with DJL's PyTorch engine (docs/decisions.md items 6 and 7):
 *
 * <ul>
 *   <li>every parameter value is a leaf that requires a gradient; the constructor replaces each value
 *       with a fresh copy so that views cached from the old array (e.g. GroupNorm's reshaped gain)
 *       are rebuilt under autograd;
 *   <li>{@link #step()} runs after the {@code GradientCollector} is closed, in its own NDScope: the
 *       new parameter values and moments are unregistered from it, everything else (gradients,
 *       temporaries) is freed at its end;
 *   <li>{@link Parameter#set} closes the previous value, so the number of arrays held by the
 *       weights' manager does not grow across steps.
 * </ul>
 *
 * <p>The moments live in each parameter's manager. Call {@link #close()} to free them.
 */
public final class AdamW implements AutoCloseable {
  private final List<Parameter> params;
  private final NDArray[] m;
  private final NDArray[] v;
  private final float beta1;
  private final float beta2;
  private final float eps;
  private final float weightDecay;
  private final float[] rateScale; // per parameter, multiplies the learning rate (a parameter group's rate)
  private float learningRate;
  private int t;

  public AdamW(List<Parameter> params, float learningRate, float weightDecay) {
    this(params, null, learningRate, weightDecay);
  }

  /**
   * {@code rateScale[i]} multiplies the learning rate of parameter {@code i} (and so its weight
   * decay, as PyTorch's parameter groups do); null: 1 for all.
   */
  public AdamW(List<Parameter> params, float[] rateScale, float learningRate, float weightDecay) {
    this(params, rateScale, learningRate, 0.9f, 0.999f, 1e-8f, weightDecay);
  }

  public AdamW(List<Parameter> params, float learningRate, float beta1, float beta2, float eps, float weightDecay) {
    this(params, null, learningRate, beta1, beta2, eps, weightDecay);
  }

  private AdamW(List<Parameter> params, float[] rateScale, float learningRate, float beta1, float beta2, float eps, float weightDecay) {
    if (rateScale != null && rateScale.length != params.size()) {
      throw new IllegalArgumentException("AdamW rate scales: " + rateScale.length + " for " + params.size() + " parameters");
    }
    if (!(learningRate > 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0) || !(weightDecay >= 0)) {
      throw new IllegalArgumentException("invalid AdamW settings: lr " + learningRate + ", betas (" + beta1 + ", " + beta2 + "), eps " + eps + ", weight decay " + weightDecay);
    }
    this.params = List.copyOf(params);
    this.rateScale = new float[this.params.size()];
    for (int i = 0; i < this.rateScale.length; i++) {
      float k = rateScale == null ? 1f : rateScale[i];
      if (!(k > 0)) {
        throw new IllegalArgumentException("AdamW rate scale of parameter " + i + " is " + k + " (> 0)");
      }
      this.rateScale[i] = k;
    }
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.learningRate = learningRate;
    this.m = new NDArray[this.params.size()];
    this.v = new NDArray[this.params.size()];
    for (int i = 0; i < this.params.size(); i++) {
      Parameter p = this.params.get(i);
      NDArray old = p.get();
      NDArray detached = old.stopGradient();
      NDArray fresh = detached.duplicate();
      detached.close();
      NDScope.unregister(fresh);
      fresh.setRequiresGradient(true);
      m[i] = keep(old.getManager().zeros(old.getShape(), old.getDataType(), old.getDevice()));
      v[i] = keep(old.getManager().zeros(old.getShape(), old.getDataType(), old.getDevice()));
      p.set(fresh); // closes the old value
    }
  }

  private static NDArray keep(NDArray a) {
    NDScope.unregister(a);
    return a;
  }

  public void setLearningRate(float learningRate) {
    this.learningRate = learningRate;
  }

  public float learningRate() {
    return learningRate;
  }

  /** Number of updates done so far. */
  public int steps() {
    return t;
  }

  public List<Parameter> parameters() {
    return params;
  }

  /**
   * One update from the gradients of the last backward pass. Call it after the GradientCollector is
   * closed. The updated values are fresh leaves, so the next step starts with no gradient.
   *
   * @throws IllegalStateException if a parameter received no gradient
   */
  public void step() {
    t++;
    float c1 = (float) (1 - Math.pow(beta1, t));
    float c2 = (float) (1 - Math.pow(beta2, t));
    try (NDScope s = new NDScope()) {
      s.suppressNotUsedWarning();
      for (int i = 0; i < params.size(); i++) {
        Parameter p = params.get(i);
        NDArray value = p.get();
        NDArray g = value.getGradient();
        NDArray m2 = m[i].mul(beta1).add(g.mul(1 - beta1));
        NDArray v2 = v[i].mul(beta2).add(g.square().mul(1 - beta2));
        NDArray update = m2.div(c1).div(v2.div(c2).sqrt().add(eps));
        float lr = learningRate * rateScale[i];
        NDArray p2 = value.stopGradient().mul(1 - lr * weightDecay).sub(update.mul(lr));
        keep(p2);
        keep(m2);
        keep(v2);
        p2.setRequiresGradient(true);
        g.close();
        m[i].close();
        v[i].close();
        m[i] = m2;
        v[i] = v2;
        p.set(p2); // closes the old value
      }
    }
  }

  /** Frees the moments; the parameters stay as they are. */
  @Override
  public void close() {
    for (int i = 0; i < m.length; i++) {
      if (m[i] != null) {
        m[i].close();
        v[i].close();
        m[i] = null;
        v[i] = null;
      }
    }
  }
}
