package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * One named weight of a {@link Module}: its expected shape and, once loaded or initialised, its
 * value. The value lives in the model's long-lived NDManager.
 */
public final class Parameter {
  private final String name;
  private final Shape shape;
  private NDArray value;

  Parameter(String name, Shape shape) {
    this.name = name;
    this.shape = shape;
  }

  /**
   * A parameter outside any module, holding {@code value} (e.g. a learned vector of a
   * personalization method, so that {@code train.AdamW} can update it).
   */
  public static Parameter of(String name, NDArray value) {
    Parameter p = new Parameter(name, value.getShape());
    p.value = value;
    return p;
  }

  /** The local name inside its module, e.g. {@code weight}. */
  public String name() {
    return name;
  }

  public Shape shape() {
    return shape;
  }

  public boolean isSet() {
    return value != null;
  }

  /** The value; fails with the parameter's name if it was never loaded. */
  public NDArray get() {
    if (value == null) {
      throw new IllegalStateException("parameter '" + name + "' " + shape + " was never loaded");
    }
    return value;
  }

  /** Replaces the value, closing the previous one. The shape must match exactly. */
  public void set(NDArray newValue) {
    if (!newValue.getShape().equals(shape)) {
      throw new IllegalArgumentException(
          "parameter '" + name + "' expects shape " + shape + " but got " + newValue.getShape());
    }
    if (value != null && value != newValue) {
      value.close();
    }
    value = newValue;
  }

  /**
   * Replaces the value without closing the previous one, which is returned: for putting another
   * value in place for a while (an override of {@link WeightEdits}) and then the original back.
   */
  public NDArray swap(NDArray newValue) {
    if (!newValue.getShape().equals(shape)) {
      throw new IllegalArgumentException(
          "parameter '" + name + "' expects shape " + shape + " but got " + newValue.getShape());
    }
    NDArray previous = value;
    value = newValue;
    return previous;
  }
}
