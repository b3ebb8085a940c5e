package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.AttentionProcessor;
import org.perfusionjobs.engine.attention.KeyValue;

/**
 * The gated rank-1 edit of K and V in a cross-attention layer, for any number of concepts (method
 * page, sections 2 and 6):
 *
 * <pre>
 *   h(e) = W (e - P(e)) + sum_j sigmoid((s_j(e) - beta_j) / tau_j) o*_j
 *   s_j(e) = e' Cinv i*_j / (i*_j' Cinv i*_j)
 * </pre>
 *
 * where P is the Cinv-orthogonal projection onto span{i*_j}: with Cinv = L L' (Cholesky) and A = L'
 * [i*_1 .. i*_N] = QR, P(e) = I* (R'R)^-1 U e with U = I*' Cinv. For one concept this is exactly
 * {@code s(e) i*}. The projection and the gates depend only on the text, so they are computed once
 * per input encoding and shared by all layers; each layer then adds its own {@code W} and targets.
 * Build one per request (or per training step).
 *
 * <p>Ablations ({@link PerfusionAblation}, per concept): without the gate a concept's gate is 1 on
 * every token; without Cinv the identity takes its place (s(e) = e' i* / i*' i*, P the Euclidean
 * projection), which every concept of one processor must then share (their joint projection needs
 * one metric). Without key-locking nothing changes here: the concept's K targets are learned ones.
 *
 * <p>Legend: B batch, T tokens, D text width, N concepts, C layer width.
 */
public final class PerfusionProcessor implements AttentionProcessor {
  private final List<ConceptEdit> edits;
  private final NDArray iStars; // (N, D)
  private final NDArray uT; // (D, N): columns Cinv i*_j
  private final NDArray invEnergy; // (N): 1 / (i*_j' Cinv i*_j)
  private final NDArray invGram; // (N, N): (I*' Cinv I*)^-1 from the QR
  private final NDArray beta; // (N)
  private final NDArray invTau; // (N)
  private final NDArray gateKeep; // (N): 0 for a concept without the gate, else 1; null: all gated
  private final NDArray gateOpen; // (N): 1 - gateKeep
  private final Map<NDArray, Projected> projected = new IdentityHashMap<>();
  private final Map<String, NDArray[]> targets = new HashMap<>();
  private final Map<NDArray, NDArray> tokenMasks = new IdentityHashMap<>();

  private record Projected(
      NDArray residual, NDArray similarity, NDArray gates) {} // (B,T,D), (B,T,N), (B,T,N)

  /**
   * @param manager where the per-request constants live (the request's manager)
   * @param dtype the model's compute type
   */
  public PerfusionProcessor(
      Covariance cov, List<ConceptEdit> edits, NDManager manager, DataType dtype) {
    if (edits.isEmpty()) {
      throw new IllegalArgumentException("a Perfusion processor needs at least one concept");
    }
    int n = edits.size();
    int d = cov.dim();
    double[][] u = new double[n][];
    double[][] transformed = new double[n][];
    double[] energy = new double[n];
    boolean identity = edits.get(0).ablation() == PerfusionAblation.NO_CINV;
    if (edits.stream().anyMatch(e -> (e.ablation() == PerfusionAblation.NO_CINV) != identity)) {
      throw new IllegalArgumentException(
          "concepts trained without the Cinv projection (ablation no-cinv) cannot be combined with"
              + " concepts trained with it");
    }
    double[][] l = identity ? null : cov.cholesky();
    for (int j = 0; j < n; j++) {
      double[] i = edits.get(j).iStar();
      if (i.length != d) {
        throw new IllegalArgumentException(
            "concept " + j + " has i* of width " + i.length + ", Cinv is " + d + " wide");
      }
      u[j] = identity ? i.clone() : cov.apply(i);
      energy[j] = DenseMath.dot(i, u[j]);
      transformed[j] = identity ? i.clone() : DenseMath.lowerTransposeTimes(l, i);
    }
    double[][] invGramHost = DenseMath.inverseGramFromR(DenseMath.qrR(transformed));
    this.edits = List.copyOf(edits);
    this.iStars =
        create(manager, edits.stream().map(ConceptEdit::iStar).toArray(double[][]::new), dtype);
    this.uT = create(manager, u, dtype).transpose();
    float[] inv = new float[n];
    float[] b = new float[n];
    float[] it = new float[n];
    for (int j = 0; j < n; j++) {
      inv[j] = (float) (1.0 / energy[j]);
      b[j] = edits.get(j).beta();
      it[j] = 1f / edits.get(j).tau();
    }
    this.invEnergy = manager.create(inv).toType(dtype, false);
    this.invGram = create(manager, invGramHost, dtype);
    this.beta = manager.create(b).toType(dtype, false);
    this.invTau = manager.create(it).toType(dtype, false);
    if (edits.stream().anyMatch(e -> e.ablation() == PerfusionAblation.NO_GATE)) {
      float[] keep = new float[n];
      float[] open = new float[n];
      for (int j = 0; j < n; j++) {
        boolean ungated = edits.get(j).ablation() == PerfusionAblation.NO_GATE;
        keep[j] = ungated ? 0f : 1f;
        open[j] = ungated ? 1f : 0f;
      }
      this.gateKeep = manager.create(keep).toType(dtype, false);
      this.gateOpen = manager.create(open).toType(dtype, false);
    } else {
      this.gateKeep = null;
      this.gateOpen = null;
    }
  }

  private static NDArray create(NDManager m, double[][] rows, DataType dtype) {
    int n = rows.length;
    int d = rows[0].length;
    float[] flat = new float[n * d];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < d; j++) {
        flat[i * d + j] = (float) rows[i][j];
      }
    }
    return m.create(flat, new Shape(n, d)).toType(dtype, false);
  }

  @Override
  public KeyValue keyValue(Attention attn, NDArray keyInput, NDArray valueInput) {
    NDArray[] t = targets.computeIfAbsent(attn.path(), this::stackTargets);
    Projected k = project(keyInput);
    Projected v = keyInput == valueInput ? k : project(valueInput);
    NDArray key = attn.toK.forward(k.residual()).add(k.gates().matMul(t[0]));
    NDArray value = attn.toV.forward(v.residual()).add(v.gates().matMul(t[1]));
    return new KeyValue(key, value);
  }

  /**
   * Multiplies the gates computed for {@code encoding} (this very array) by {@code mask}, (B, T,
   * N): 1 where a concept's gate may open, 0 where it is forced shut ({@link GateScope#WORD}). Call
   * before the encoding is first used.
   */
  public void confine(NDArray encoding, NDArray mask) {
    if (projected.containsKey(encoding)) {
      throw new IllegalStateException("confine an encoding before its gates are computed");
    }
    tokenMasks.put(encoding, mask);
  }

  /** The gates of each concept for an encoding, (B, T, N); exposed for diagnostics and tests. */
  public NDArray gates(NDArray e) {
    return project(e).gates();
  }

  /** s(e) = e' Cinv i* / i*' Cinv i* of each token for each concept, (B, T, N): 1 at i* itself. */
  public NDArray similarities(NDArray e) {
    return project(e).similarity();
  }

  private Projected project(NDArray e) {
    return projected.computeIfAbsent(
        e,
        x -> {
          NDArray ue = x.matMul(uT); // (B, T, N): e' Cinv i*_j
          NDArray s = ue.mul(invEnergy);
          NDArray gates = Activation.sigmoid(s.sub(beta).mul(invTau));
          if (gateKeep != null) {
            gates = gates.mul(gateKeep).add(gateOpen); // exactly 1 for a concept without the gate
          }
          NDArray mask = tokenMasks.get(x);
          if (mask != null) {
            gates = gates.mul(mask);
          }
          NDArray coeff = ue.matMul(invGram); // (B, T, N): coordinates of P(e) in the i* basis
          NDArray residual = x.sub(coeff.matMul(iStars)); // e - P(e)
          return new Projected(residual, s, gates);
        });
  }

  private NDArray[] stackTargets(String path) {
    List<NDArray> ks = new ArrayList<>();
    List<NDArray> vs = new ArrayList<>();
    for (ConceptEdit e : edits) {
      NDArray k = e.keyTargets().get(path);
      NDArray v = e.valueTargets().get(path);
      if (k == null || v == null) {
        throw new IllegalStateException(
            "concept has no targets for cross-attention layer '" + path + "'");
      }
      ks.add(k);
      vs.add(v);
    }
    return new NDArray[] {
      NDArrays.stack(new NDList(ks)), NDArrays.stack(new NDList(vs))
    }; // (N, C) each
  }
}
