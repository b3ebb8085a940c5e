package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.attention.KeyValue;

/**
 * Closed-form properties of the gated rank-1 edit, checked against host computations in double
 * precision. Tolerance 1e-4 absolute: the edit runs in fp32 on values of order 1-10.
 */
class PerfusionProcessorTest extends ProcessorFixture {
  @Override
  long seed() {
    return 42;
  }

  @Test
  void cinvOrthogonalInputKeepsTheBaseProjectionUpToTheGateFloor() {
    double[] iStar = randomVector(D);
    double[] oK = randomVector(C);
    double[] oV = randomVector(C);
    float beta = 0.7f;
    float tau = 0.15f;
    // e := x - (x' Cinv i* / i*' Cinv i*) i* is Cinv-orthogonal to i*.
    double[] x = randomVector(D);
    double[] u = cov.apply(iStar);
    double s = DenseMath.dot(x, u) / DenseMath.dot(iStar, u);
    double[] e = new double[D];
    for (int i = 0; i < D; i++) {
      e[i] = x[i] - s * iStar[i];
    }
    KeyValue kv =
        edit(List.of(concept(iStar, oK, oV, beta, tau))).keyValue(attn, tokens(e), tokens(e));
    double floor = sigmoid(-beta / tau);
    assertClose(plus(times(wk, e), scale(oK, floor)), kv.key());
    assertClose(plus(times(wv, e), scale(oV, floor)), kv.value());
  }

  @Test
  void targetInputMapsToGatedTarget() {
    double[] iStar = randomVector(D);
    double[] oK = randomVector(C);
    double[] oV = randomVector(C);
    KeyValue kv =
        edit(List.of(concept(iStar, oK, oV, 0.75f, 0.1f)))
            .keyValue(attn, tokens(iStar), tokens(iStar));
    double g = sigmoid((1 - 0.75) / 0.1);
    assertClose(scale(oK, g), kv.key());
    assertClose(scale(oV, g), kv.value());
  }

  @Test
  void scalingCinvChangesNothing() {
    double[] iStar = randomVector(D);
    ConceptEdit c = concept(iStar, randomVector(C), randomVector(C), 0.7f, 0.15f);
    double[] e = randomVector(D);
    NDArray k1 =
        new PerfusionProcessor(cov, List.of(c), m, DataType.FLOAT32)
            .keyValue(attn, tokens(e), tokens(e))
            .key();
    double[][] scaled = cov.matrix().clone();
    for (int i = 0; i < D; i++) {
      scaled[i] = cov.matrix()[i].clone();
      for (int j = 0; j < D; j++) {
        scaled[i][j] *= 37.5;
      }
    }
    NDArray k2 =
        new PerfusionProcessor(new Covariance(scaled, Map.of()), List.of(c), m, DataType.FLOAT32)
            .keyValue(attn, tokens(e), tokens(e))
            .key();
    assertTrue(k1.sub(k2).abs().max().getFloat() < TOL);
  }

  @Test
  void oneConceptThroughTheGeneralPathEqualsTheSingleConceptFormula() {
    double[] iStar = randomVector(D);
    double[] oK = randomVector(C);
    double[] oV = randomVector(C);
    float beta = 0.6f;
    float tau = 0.2f;
    double[][] es = {randomVector(D), randomVector(D), iStar, scale(iStar, 0.5)};
    PerfusionProcessor p = edit(List.of(concept(iStar, oK, oV, beta, tau)));
    NDArray in = tokens(es);
    KeyValue kv = p.keyValue(attn, in, in);
    double[] u = cov.apply(iStar);
    double energy = DenseMath.dot(iStar, u);
    for (int t = 0; t < es.length; t++) {
      double s = DenseMath.dot(es[t], u) / energy;
      double[] residual = new double[D];
      for (int i = 0; i < D; i++) {
        residual[i] = es[t][i] - s * iStar[i];
      }
      double g = sigmoid((s - beta) / tau);
      assertClose(plus(times(wk, residual), scale(oK, g)), kv.key().get(0, t));
      assertClose(plus(times(wv, residual), scale(oV, g)), kv.value().get(0, t));
    }
  }

  @Test
  void cinvOrthogonalTargetsAgreeWithTheSumApproximation() {
    // Make i*_2 Cinv-orthogonal to i*_1.
    double[] i1 = randomVector(D);
    double[] x = randomVector(D);
    double[] u1 = cov.apply(i1);
    double a = DenseMath.dot(x, u1) / DenseMath.dot(i1, u1);
    double[] i2 = new double[D];
    for (int i = 0; i < D; i++) {
      i2[i] = x[i] - a * i1[i];
    }
    double[][] targets = {i1, i2};
    double[][] oKs = {randomVector(C), randomVector(C)};
    double[][] oVs = {randomVector(C), randomVector(C)};
    float[] betas = {0.7f, 0.5f};
    float[] taus = {0.15f, 0.1f};
    PerfusionProcessor p =
        edit(
            List.of(
                concept(i1, oKs[0], oVs[0], betas[0], taus[0]),
                concept(i2, oKs[1], oVs[1], betas[1], taus[1])));
    double[] e = randomVector(D);
    KeyValue kv = p.keyValue(attn, tokens(e), tokens(e));
    // Approximation: P(e) = sum_j s_j(e) i*_j; gates per concept.
    double[] residual = e.clone();
    double[] expectedK = new double[C];
    double[] expectedV = new double[C];
    for (int j = 0; j < 2; j++) {
      double[] u = cov.apply(targets[j]);
      double s = DenseMath.dot(e, u) / DenseMath.dot(targets[j], u);
      for (int i = 0; i < D; i++) {
        residual[i] -= s * targets[j][i];
      }
      double g = sigmoid((s - betas[j]) / taus[j]);
      expectedK = plus(expectedK, scale(oKs[j], g));
      expectedV = plus(expectedV, scale(oVs[j], g));
    }
    assertClose(plus(times(wk, residual), expectedK), kv.key());
    assertClose(plus(times(wv, residual), expectedV), kv.value());
  }

  @Test
  void exactProjectionRemovesEveryTargetEvenWhenTargetsAreCorrelated() {
    double[] i1 = randomVector(D);
    double[] i2 = plus(scale(i1, 0.8), scale(randomVector(D), 0.3)); // strongly correlated
    PerfusionProcessor p =
        edit(
            List.of(
                concept(i1, randomVector(C), randomVector(C), 0.7f, 0.15f),
                concept(i2, randomVector(C), randomVector(C), 0.7f, 0.15f)));
    // For e = i*_1 the W path must vanish: K = sum_j gate_j(i*_1) o*_K,j only.
    NDArray e = tokens(i1);
    NDArray gates = p.gates(e); // (1, 1, 2)
    KeyValue kv = p.keyValue(attn, e, e);
    NDArray pureGates =
        gates.matMul(NDArrays.stack(new NDList(p_keyTarget(p, 0), p_keyTarget(p, 1))));
    assertTrue(kv.key().sub(pureGates).abs().max().getFloat() < TOL);
    assertEquals(new Shape(1, 1, 2), gates.getShape());
  }

  @Test
  void globalLockingFeedsKeyAndValuePathsSeparately() {
    double[] iStar = randomVector(D);
    PerfusionProcessor p =
        edit(List.of(concept(iStar, randomVector(C), randomVector(C), 0.5f, 0.1f)));
    double[] superclass = randomVector(D);
    double[] word = randomVector(D);
    KeyValue split = p.keyValue(attn, tokens(superclass), tokens(word));
    KeyValue keyOnly =
        edit(List.of(concept(iStar, lastOK, lastOV, 0.5f, 0.1f)))
            .keyValue(attn, tokens(superclass), tokens(superclass));
    KeyValue valueOnly =
        edit(List.of(concept(iStar, lastOK, lastOV, 0.5f, 0.1f)))
            .keyValue(attn, tokens(word), tokens(word));
    assertTrue(split.key().sub(keyOnly.key()).abs().max().getFloat() < TOL);
    assertTrue(split.value().sub(valueOnly.value()).abs().max().getFloat() < TOL);
  }

  // --- helpers -------------------------------------------------------------------------------

  private double[] lastOK;
  private double[] lastOV;
  private final List<double[]> keyTargets = new ArrayList<>();

  private NDArray p_keyTarget(PerfusionProcessor p, int j) {
    return m.create(toFloat(keyTargets.get(j)));
  }

  private PerfusionProcessor edit(List<ConceptEdit> edits) {
    return processor(edits);
  }

  private ConceptEdit concept(double[] iStar, double[] oK, double[] oV, float beta, float tau) {
    lastOK = oK;
    lastOV = oV;
    keyTargets.add(oK);
    return new ConceptEdit(
        iStar, Map.of(PATH, m.create(toFloat(oK))), Map.of(PATH, m.create(toFloat(oV))), beta, tau);
  }
}
