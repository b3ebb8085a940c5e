package org.perfusionjobs.engine.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import java.util.Objects;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.FlopCounter;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;
import org.perfusionjobs.engine.nn.Scalars;

/**
 * Multi-head scaled dot-product attention with diffusers' weight names ({@code to_q, to_k, to_v,
 * to_out.0}). The layer owns its weights; how K and V are made is delegated to an {@link
 * AttentionProcessor}, so an edit of the projections never touches this class.
 *
 * <p>Dimension legend: B batch, N query tokens, T key/value tokens, H heads, Dh head width, C = H *
 * Dh inner width.
 */
public final class Attention extends Module implements AttentionSlicing.Settable {
  public final int heads;
  public final int headDim;
  public final Linear toQ; // (C, queryDim)
  public final Linear toK; // (C, keyDim)
  public final Linear toV; // (C, keyDim)
  public final ModuleList<Linear> toOut; // [0]: (queryDim, C) with bias
  private volatile AttentionProcessor processor = LinearKeyValueProcessor.INSTANCE;
  private String path = "";
  private volatile AttentionSlicing slicing = AttentionSlicing.AUTO;

  /**
   * @param queryDim width of the query input
   * @param keyDim width of the key/value input (the text width for cross-attention)
   * @param qkvBias whether to_q/to_k/to_v have a bias (UNet: no; VAE: yes)
   */
  public Attention(int queryDim, int keyDim, int heads, int headDim, boolean qkvBias) {
    this.heads = heads;
    this.headDim = headDim;
    int inner = heads * headDim;
    this.toQ = child("to_q", new Linear(queryDim, inner, qkvBias));
    this.toK = child("to_k", new Linear(keyDim, inner, qkvBias));
    this.toV = child("to_v", new Linear(keyDim, inner, qkvBias));
    this.toOut = child("to_out", new ModuleList<>());
    toOut.add(new Linear(inner, queryDim, true));
  }

  public AttentionProcessor processor() {
    return processor;
  }

  public void setProcessor(AttentionProcessor processor) {
    this.processor = Objects.requireNonNull(processor, "processor");
  }

  public AttentionSlicing attentionSlicing() {
    return slicing;
  }

  @Override
  public void setAttentionSlicing(AttentionSlicing slicing) {
    this.slicing = Objects.requireNonNull(slicing, "slicing");
  }

  /** This layer's dotted module path in its model, e.g. {@code down_blocks.0...attn2}. */
  public String path() {
    return path;
  }

  public void setPath(String path) {
    this.path = path;
  }

  /** K and V through the current processor; callers may cache the result per prompt. */
  public KeyValue keyValue(NDArray keyInput, NDArray valueInput) {
    return processor.keyValue(this, keyInput, valueInput);
  }

  /** Self-attention: x (B, N, queryDim) → (B, N, queryDim). */
  public NDArray forward(NDArray x) {
    try (BlockScope s = BlockScope.open(x)) {
      return s.keep(forward(x, keyValue(x, x)));
    }
  }

  /** Attention of x (B, N, queryDim) over precomputed K/V (B, T, C) → (B, N, queryDim). */
  public NDArray forward(NDArray x, KeyValue kv) {
    try (BlockScope s = BlockScope.open(x)) {
      return s.keep(
          toOut
              .get(0)
              .forward(
                  scaledDotProduct(toQ.forward(x), kv.key(), kv.value(), heads, headDim, slicing)));
    }
  }

  /** {@link #scaledDotProduct(NDArray, NDArray, NDArray, int, int, AttentionSlicing)} unsliced. */
  public static NDArray scaledDotProduct(
      NDArray query, NDArray key, NDArray value, int heads, int headDim) {
    return scaledDotProduct(query, key, value, heads, headDim, AttentionSlicing.NONE);
  }

  /**
   * softmax(Q K' / sqrt(Dh)) V per head, with Q (B, N, C), K and V (B, T, C) → (B, N, C). Under
   * {@link AttentionSlicing#AUTO} libtorch's fused kernel runs it ({@link FusedAttention}). On the
   * math path matMul broadcasts over (B, H); when the (B, H, N, T) scores exceed the slicing
   * budget, queries go in chunks (each row's softmax still sees every key), so at most one chunk's
   * scores and probabilities exist at a time.
   */
  public static NDArray scaledDotProduct(
      NDArray query, NDArray key, NDArray value, int heads, int headDim, AttentionSlicing slicing) {
    float scale = (float) (1.0 / Math.sqrt(headDim));
    long b = query.getShape().get(0);
    long n = query.getShape().get(1);
    long t = key.getShape().get(1);
    // QK' and PV: two (N x T x Dh) products per head.
    FlopCounter.addMultiplyAdds(2 * b * heads * n * t * headDim);
    if (slicing.usesFusedKernel()) {
      try (BlockScope s = BlockScope.open(query, key, value)) {
        NDArray out =
            FusedAttention.apply(
                splitHeads(query, heads, headDim),
                splitHeads(key, heads, headDim),
                splitHeads(value, heads, headDim));
        return s.keep(out.transpose(0, 2, 1, 3).reshape(b, n, (long) heads * headDim));
      }
    }
    long chunk = slicing.queryChunk(b * heads, n, t, query.getDataType().getNumOfBytes());
    try (BlockScope s = BlockScope.open(query, key, value)) {
      NDArray q = Scalars.mul(splitHeads(query, heads, headDim), scale); // (B, H, N, Dh)
      NDArray kT = splitHeads(key, heads, headDim).transpose(0, 1, 3, 2); // (B, H, Dh, T)
      NDArray v = splitHeads(value, heads, headDim); // (B, H, T, Dh)
      NDArray out; // (B, H, N, Dh)
      if (chunk >= n) {
        out = q.matMul(kT).softmax(-1).matMul(v);
      } else {
        NDList parts = new NDList();
        for (long start = 0; start < n; start += chunk) {
          long end = Math.min(n, start + chunk);
          NDArray qc = q.get(new NDIndex(":, :, {}:{}", start, end));
          try (BlockScope c = BlockScope.open(qc)) {
            parts.add(c.keep(qc.matMul(kT).softmax(-1).matMul(v))); // (B, H, chunk, Dh)
          }
          BlockScope.release(qc);
        }
        out = NDArrays.concat(parts, 2);
        parts.forEach(BlockScope::release);
      }
      return s.keep(out.transpose(0, 2, 1, 3).reshape(b, n, (long) heads * headDim));
    }
  }

  private static NDArray splitHeads(NDArray x, int heads, int headDim) {
    long b = x.getShape().get(0);
    long n = x.getShape().get(1);
    return x.reshape(b, n, heads, headDim).transpose(0, 2, 1, 3);
  }
}
