package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

class DenseMathTest {

  @Test
  void inverseOfSpdMatrixTimesMatrixIsIdentity() {
    Random r = new Random(1);
    int n = 40;
    double[][] a = new double[n][n];
    double[][] g = new double[n][n];
    for (double[] row : g) {
      for (int j = 0; j < n; j++) {
        row[j] = r.nextGaussian();
      }
    }
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        for (int k = 0; k < n; k++) {
          a[i][j] += g[k][i] * g[k][j];
        }
        a[i][j] += i == j ? 0.5 : 0;
      }
    }
    double[][] inv = DenseMath.inverseSpd(a);
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int k = 0; k < n; k++) {
          s += a[i][k] * inv[k][j];
        }
        assertEquals(i == j ? 1 : 0, s, 1e-9);
      }
    }
  }

  @Test
  void gramInverseFromQrMatchesDirectInverse() {
    double[][] cols = {{1, 2, 0, 1}, {0, 1, 3, 1}, {2, 0, 1, -1}};
    double[][] gram = new double[3][3];
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 3; j++) {
        gram[i][j] = DenseMath.dot(cols[i], cols[j]);
      }
    }
    double[][] expected = DenseMath.inverseSpd(gram);
    double[][] actual = DenseMath.inverseGramFromR(DenseMath.qrR(cols));
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 3; j++) {
        assertEquals(expected[i][j], actual[i][j], 1e-12);
      }
    }
  }

  @Test
  void dependentTargetsAndIndefiniteMatricesAreRejected() {
    assertThrows(
        ArithmeticException.class, () -> DenseMath.qrR(new double[][] {{1, 2, 3}, {2, 4, 6}}));
    assertThrows(
        ArithmeticException.class, () -> DenseMath.cholesky(new double[][] {{1, 2}, {2, 1}}));
  }
}
