package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Accumulates {@code C = mean(e e')} over token encodings in double precision and inverts it.
 * Whether padding tokens count is a choice recorded with the matrix: we exclude them by default
 * (they repeat the end token's encoding and would dominate short captions).
 */
public final class CovarianceEstimator implements AutoCloseable {
  private final int dim;
  private final boolean includePadding;
  private final NDManager manager;
  private NDArray sum; // (D, D) float64
  private long tokens;
  private long captions;

  public CovarianceEstimator(int dim, boolean includePadding) {
    this.dim = dim;
    this.includePadding = includePadding;
    this.manager = NDManager.newBaseManager();
    this.sum = manager.zeros(new Shape(dim, dim), DataType.FLOAT64);
  }

  /**
   * @param states (B, T, D) text encoder outputs
   * @param lengths per row, the number of tokens up to and including the end token
   */
  public void add(NDArray states, int[] lengths) {
    long b = states.getShape().get(0);
    long t = states.getShape().get(1);
    if (states.getShape().get(2) != dim || lengths.length != b) {
      throw new IllegalArgumentException(
          "states "
              + states.getShape()
              + " and "
              + lengths.length
              + " lengths do not fit a "
              + dim
              + "-wide estimator");
    }
    try (NDManager step = manager.newSubManager()) {
      NDArray x = states.toType(DataType.FLOAT64, false);
      step.tempAttachAll(x);
      for (int i = 0; i < b; i++) {
        int n = includePadding ? (int) t : Math.min(lengths[i], (int) t);
        NDArray rows = x.get(i).get(new NDIndex(":{}", n)); // (n, D)
        NDArray outer = rows.transpose().matMul(rows);
        NDArray next = sum.add(outer);
        NDScope.unregister(next); // the running sum outlives the caller's scope
        sum.close();
        sum = next;
        tokens += n;
      }
      captions += b;
    }
  }

  public long tokens() {
    return tokens;
  }

  /** C^-1 in double, with how it was made recorded in the metadata. */
  public Covariance finish(Map<String, String> extraMetadata) {
    if (tokens < dim) {
      throw new IllegalStateException(
          "only " + tokens + " token encodings for a " + dim + "-wide covariance: add captions");
    }
    double[] flat = sum.div((double) tokens).toDoubleArray();
    double[][] c = new double[dim][dim];
    for (int i = 0; i < dim; i++) {
      System.arraycopy(flat, i * dim, c[i], 0, dim);
    }
    double[][] inv;
    try {
      inv = DenseMath.inverseSpd(c);
    } catch (ArithmeticException e) {
      throw new IllegalStateException(
          "the covariance of "
              + tokens
              + " token encodings is singular ("
              + e.getMessage()
              + "): use more and more varied captions",
          e);
    }
    Map<String, String> meta = new LinkedHashMap<>(extraMetadata);
    meta.put("captions", Long.toString(captions));
    meta.put("tokens", Long.toString(tokens));
    meta.put("padding_included", Boolean.toString(includePadding));
    meta.put("dim", Integer.toString(dim));
    return new Covariance(inv, meta);
  }

  @Override
  public void close() {
    manager.close();
  }
}
