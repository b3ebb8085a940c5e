package org.perfusionjobs.engine.perfusion;

/**
 * Small dense linear algebra in double precision on the host: the covariance inverse (D = 768 for
 * SD v1.x) and the N x N systems of a multi-concept projection. Row-major {@code double[n][n]}.
 */
final class DenseMath {
  private DenseMath() {}

  /** Lower-triangular L with A = L L'; fails naming the pivot if A is not positive definite. */
  static double[][] cholesky(double[][] a) {
    int n = a.length;
    double[][] l = new double[n][n];
    for (int j = 0; j < n; j++) {
      double d = a[j][j];
      double[] lj = l[j];
      for (int k = 0; k < j; k++) {
        d -= lj[k] * lj[k];
      }
      if (!(d > 0)) {
        throw new ArithmeticException(
            "matrix is not positive definite (pivot " + j + " = " + d + ")");
      }
      double ljj = Math.sqrt(d);
      lj[j] = ljj;
      for (int i = j + 1; i < n; i++) {
        double s = a[i][j];
        double[] li = l[i];
        for (int k = 0; k < j; k++) {
          s -= li[k] * lj[k];
        }
        li[j] = s / ljj;
      }
    }
    return l;
  }

  /** Inverse of a symmetric positive-definite matrix through its Cholesky factor. */
  static double[][] inverseSpd(double[][] a) {
    int n = a.length;
    double[][] l = cholesky(a);
    // Solve L Y = I (Y = L^-1, lower triangular), then A^-1 = Y' Y.
    double[][] y = new double[n][n];
    for (int c = 0; c < n; c++) {
      for (int i = c; i < n; i++) {
        double s = i == c ? 1 : 0;
        for (int k = c; k < i; k++) {
          s -= l[i][k] * y[k][c];
        }
        y[i][c] = s / l[i][i];
      }
    }
    double[][] inv = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        double s = 0;
        for (int k = i; k < n; k++) {
          s += y[k][i] * y[k][j];
        }
        inv[i][j] = s;
        inv[j][i] = s;
      }
    }
    return inv;
  }

  /**
   * The R of a thin QR of the D x N matrix given by its columns (modified Gram-Schmidt with one
   * re-orthogonalisation pass, enough for the few, well-separated columns of concept targets).
   */
  static double[][] qrR(double[][] columns) {
    int n = columns.length;
    int d = columns[0].length;
    double[][] q = new double[n][];
    double[][] r = new double[n][n];
    for (int j = 0; j < n; j++) {
      double[] v = columns[j].clone();
      for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < j; k++) {
          double dot = dot(q[k], v);
          r[k][j] += dot;
          for (int i = 0; i < d; i++) {
            v[i] -= dot * q[k][i];
          }
        }
      }
      double norm = Math.sqrt(dot(v, v));
      if (!(norm > 1e-12 * Math.sqrt(dot(columns[j], columns[j])))) {
        throw new ArithmeticException(
            "concept target " + j + " is linearly dependent on the ones before it");
      }
      r[j][j] = norm;
      for (int i = 0; i < d; i++) {
        v[i] /= norm;
      }
      q[j] = v;
    }
    return r;
  }

  /** (R' R)^-1 for upper-triangular R: the inverse Gram matrix of the QR-factored columns. */
  static double[][] inverseGramFromR(double[][] r) {
    int n = r.length;
    // Rinv: upper triangular inverse of R.
    double[][] rinv = new double[n][n];
    for (int c = 0; c < n; c++) {
      for (int i = c; i >= 0; i--) {
        double s = i == c ? 1 : 0;
        for (int k = i + 1; k <= c; k++) {
          s -= r[i][k] * rinv[k][c];
        }
        rinv[i][c] = s / r[i][i];
      }
    }
    double[][] g = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int k = 0; k < n; k++) {
          s += rinv[i][k] * rinv[j][k];
        }
        g[i][j] = s;
      }
    }
    return g;
  }

  /** y = L' x for lower-triangular L. */
  static double[] lowerTransposeTimes(double[][] l, double[] x) {
    int n = x.length;
    double[] y = new double[n];
    for (int i = 0; i < n; i++) {
      double s = 0;
      for (int k = i; k < n; k++) {
        s += l[k][i] * x[k];
      }
      y[i] = s;
    }
    return y;
  }

  static double[] times(double[][] a, double[] x) {
    double[] y = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      y[i] = dot(a[i], x);
    }
    return y;
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
