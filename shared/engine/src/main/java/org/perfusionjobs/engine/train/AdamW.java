package org.perfusionjobs.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import org.perfusionjobs.engine.nn.Parameter;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter) over a module's {@link Parameter}s:
 *
 * <ul>
 *   <li>every parameter value is a leaf that requires a gradient; the constructor replaces each
 *       value with a fresh copy so that views cached from the old array (e.g. GroupNorm's reshaped
 *       gain) are rebuilt under autograd;
 *   <li>{@link #step()} runs after the {@code GradientCollector} is closed and updates values and
 *       moments in place, one libtorch call per parameter, instead of a dozen allocating array
 *       operations (docs/benchmarks.md, training step); each value then gets a new handle on the
 *       same storage, so modules rebuild the views they cached from the old handle;
 *   <li>{@link Parameter#set} closes the old handle, so the number of arrays held by the weights'
 *       manager does not grow across steps.
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
  private final float[]
      rateScale; // per parameter, multiplies the learning rate (a parameter group's rate)
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

  public AdamW(
      List<Parameter> params,
      float learningRate,
      float beta1,
      float beta2,
      float eps,
      float weightDecay) {
    this(params, null, learningRate, beta1, beta2, eps, weightDecay);
  }

  private AdamW(
      List<Parameter> params,
      float[] rateScale,
      float learningRate,
      float beta1,
      float beta2,
      float eps,
      float weightDecay) {
    if (rateScale != null && rateScale.length != params.size()) {
      throw new IllegalArgumentException(
          "AdamW rate scales: " + rateScale.length + " for " + params.size() + " parameters");
    }
    if (!(learningRate > 0)
        || !(beta1 >= 0 && beta1 < 1)
        || !(beta2 >= 0 && beta2 < 1)
        || !(eps > 0)
        || !(weightDecay >= 0)) {
      throw new IllegalArgumentException(
          "invalid AdamW settings: lr "
              + learningRate
              + ", betas ("
              + beta1
              + ", "
              + beta2
              + "), eps "
              + eps
              + ", weight decay "
              + weightDecay);
    }
    this.params = List.copyOf(params);
    this.rateScale = new float[this.params.size()];
    for (int i = 0; i < this.rateScale.length; i++) {
      float k = rateScale == null ? 1f : rateScale[i];
      if (!(k > 0)) {
        throw new IllegalArgumentException(
            "AdamW rate scale of parameter " + i + " is " + k + " (> 0)");
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

  /** The first moment of parameter {@code i}: the live array, to copy for a checkpoint. */
  public NDArray firstMoment(int i) {
    return m[i];
  }

  /** The second moment of parameter {@code i}: the live array, to copy for a checkpoint. */
  public NDArray secondMoment(int i) {
    return v[i];
  }

  /**
   * Continues an interrupted run: the number of updates already done and each parameter's moments,
   * as saved from {@link #firstMoment} and {@link #secondMoment}. The parameters' values are the
   * caller's to restore.
   */
  public void resume(int steps, List<float[]> first, List<float[]> second) {
    if (steps < 0 || first.size() != params.size() || second.size() != params.size()) {
      throw new IllegalArgumentException(
          "AdamW resume: step "
              + steps
              + ", "
              + first.size()
              + " and "
              + second.size()
              + " moments for "
              + params.size()
              + " parameters");
    }
    for (int i = 0; i < params.size(); i++) {
      if (first.get(i).length != m[i].size() || second.get(i).length != v[i].size()) {
        throw new IllegalArgumentException(
            "AdamW resume: moments of parameter "
                + i
                + " have "
                + first.get(i).length
                + " and "
                + second.get(i).length
                + " values, the parameter "
                + m[i].size());
      }
      m[i].set(first.get(i));
      v[i].set(second.get(i));
    }
    t = steps;
  }

  /**
   * One update from the gradients of the last backward pass. Call it after the GradientCollector is
   * closed. Each parameter and its moments are updated in place by one native call (DJL's libtorch
   * Adam kernel in its AdamW mode); the parameter then gets a new leaf handle on the updated
   * storage, with no gradient, so the next backward pass starts from nothing.
   *
   * <p>libtorch's update computes {@code w -= lr * sqrt(c2) / c1 * m / (sqrt(v) + eps')}; with
   * {@code eps' = eps * sqrt(c2)} that is exactly {@code lr * (m / c1) / (sqrt(v / c2) + eps)}, the
   * textbook bias-corrected form. Weight decay is applied first, as {@code w *= 1 - lr * wd}. A
   * parameter that the loss did not reach has a zero gradient (its moments decay, its weight too).
   */
  public void step() {
    t++;
    double c1 = 1 - Math.pow(beta1, t);
    double sqrtC2 = Math.sqrt(1 - Math.pow(beta2, t));
    for (int i = 0; i < params.size(); i++) {
      Parameter p = params.get(i);
      PtNDArray value = (PtNDArray) p.get();
      float lr = learningRate * rateScale[i];
      try (PtNDArray g = value.getGradient()) {
        JniUtils.adamUpdate(
            value,
            g,
            (PtNDArray) m[i],
            (PtNDArray) v[i],
            lr,
            (float) (lr * sqrtC2 / c1),
            weightDecay,
            1f,
            -1f,
            beta1,
            beta2,
            (float) (eps * sqrtC2),
            true);
      }
      // A new leaf handle on the same storage: the next backward pass writes a fresh gradient
      // instead of adding into a zeroed one (an extra pass over every weight), and the old
      // gradient goes with the old handle.
      NDArray fresh = keep(value.stopGradient());
      fresh.setRequiresGradient(true);
      p.set(fresh); // closes the old handle, not the storage
    }
  }

  /**
   * Whether every parameter's gradient from the last backward pass is finite (a parameter the pass
   * did not reach counts as finite).
   */
  public boolean gradientsFinite() {
    for (Parameter p : params) {
      NDArray value = p.get();
      try (NDArray g = value.getGradient();
          NDArray bad = g.isNaN().logicalOr(g.isInfinite()).any()) {
        if (bad.getBoolean()) {
          return false;
        }
      }
    }
    return true;
  }

  /** Drops the last backward pass's gradients: the step they were for will not be taken. */
  public void discardGradients() {
    for (Parameter p : params) {
      NDArray fresh = keep(p.get().stopGradient());
      fresh.setRequiresGradient(true);
      p.set(fresh); // closes the old handle and its gradient, not the storage
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
