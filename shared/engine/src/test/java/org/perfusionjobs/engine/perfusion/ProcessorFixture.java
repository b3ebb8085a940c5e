package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.perfusionjobs.engine.attention.Attention;

/**
 * One cross-attention layer with random K/V weights and a random covariance, for tests of the gated
 * rank-1 edit; and plain double-precision loops that compute what the edit should return,
 * independently of the engine (none of {@link DenseMath}).
 */
abstract class ProcessorFixture {
  static final int D = 6; // text width
  static final int C = 4; // layer width
  static final String PATH = "mid_block.attentions.0.transformer_blocks.0.attn2";

  /** Absolute: the edit runs in fp32 on values of order 1-10. */
  static final float TOL = 1e-4f;

  NDManager m;
  Random rnd;
  Attention attn;
  double[][] wk; // (C, D)
  double[][] wv; // (C, D)
  Covariance cov;

  /** The seed of this test class's random weights, vectors and covariance. */
  abstract long seed();

  @BeforeEach
  void setUpLayer() {
    m = NDManager.newBaseManager();
    rnd = new Random(seed());
    attn = new Attention(8, D, 1, C, false);
    attn.setPath(PATH);
    wk = randomMatrix(C, D);
    wv = randomMatrix(C, D);
    attn.toK.weight.set(array(wk));
    attn.toV.weight.set(array(wv));
    cov = new Covariance(randomSpd(D), Map.of());
  }

  @AfterEach
  void closeManager() {
    m.close();
  }

  PerfusionProcessor processor(List<ConceptEdit> edits) {
    return new PerfusionProcessor(cov, edits, m, DataType.FLOAT32);
  }

  /** Text-encoder outputs (1, T, D), one row per token. */
  NDArray tokens(double[]... rows) {
    float[] flat = new float[rows.length * D];
    for (int t = 0; t < rows.length; t++) {
      for (int i = 0; i < D; i++) {
        flat[t * D + i] = (float) rows[t][i];
      }
    }
    return m.create(flat, new Shape(1, rows.length, D));
  }

  NDArray array(double[][] w) {
    float[] flat = new float[w.length * w[0].length];
    for (int i = 0; i < w.length; i++) {
      for (int j = 0; j < w[0].length; j++) {
        flat[i * w[0].length + j] = (float) w[i][j];
      }
    }
    return m.create(flat, new Shape(w.length, w[0].length));
  }

  double[][] randomMatrix(int r, int c) {
    double[][] out = new double[r][];
    for (int i = 0; i < r; i++) {
      out[i] = randomVector(c);
    }
    return out;
  }

  /** Gaussian entries rounded to fp32, so that host and engine start from the same numbers. */
  double[] randomVector(int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) rnd.nextGaussian();
    }
    return v;
  }

  /** A' A + I: symmetric positive definite with a spread of eigenvalues, far from the identity. */
  double[][] randomSpd(int n) {
    double[][] a = randomMatrix(n, n);
    double[][] s = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        double v = i == j ? 1 : 0;
        for (int k = 0; k < n; k++) {
          v += a[k][i] * a[k][j];
        }
        s[i][j] = v;
      }
    }
    return s;
  }

  static void assertClose(double[] expected, NDArray actual) {
    float[] a = actual.toFloatArray();
    assertEquals(expected.length, a.length);
    for (int i = 0; i < a.length; i++) {
      assertEquals(expected[i], a[i], TOL, "element " + i);
    }
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  static double[] times(double[][] w, double[] x) {
    double[] out = new double[w.length];
    for (int i = 0; i < w.length; i++) {
      out[i] = dot(w[i], x);
    }
    return out;
  }

  static double[] plus(double[] a, double[] b) {
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i] + b[i];
    }
    return out;
  }

  static double[] minus(double[] a, double[] b) {
    return plus(a, scale(b, -1));
  }

  static double[] scale(double[] a, double s) {
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i] * s;
    }
    return out;
  }

  static float[] toFloat(double[] a) {
    float[] out = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = (float) a[i];
    }
    return out;
  }

  static double sigmoid(double x) {
    return 1 / (1 + Math.exp(-x));
  }
}
