package org.perfusionjobs.engine.unet;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.attention.KeyValue;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.LayerNorm;
import org.perfusionjobs.engine.nn.Module;

/**
 * Pre-norm transformer block: self-attention ({@code attn1}), cross-attention over the text ({@code
 * attn2}, K/V from the request's {@link Conditioning}), GEGLU feed-forward; each with a residual.
 * Legend: B batch, N = H*W tokens, C width.
 */
public final class BasicTransformerBlock extends Module {
  public final LayerNorm norm1; // (C)
  public final Attention attn1;
  public final LayerNorm norm2; // (C)
  public final Attention attn2;
  public final LayerNorm norm3; // (C)
  public final FeedForward ff;
  String path = "";

  BasicTransformerBlock(int dim, int heads, int crossAttentionDim) {
    int headDim = dim / heads;
    this.norm1 = child("norm1", new LayerNorm(dim, 1e-5f));
    this.attn1 = child("attn1", new Attention(dim, dim, heads, headDim, false));
    this.norm2 = child("norm2", new LayerNorm(dim, 1e-5f));
    this.attn2 = child("attn2", new Attention(dim, crossAttentionDim, heads, headDim, false));
    this.norm3 = child("norm3", new LayerNorm(dim, 1e-5f));
    this.ff = child("ff", new FeedForward(dim));
  }

  /**
   * x: (B, N, C) → (B, N, C), N = height * width tokens of the feature map, row-major (regions of
   * the conditioning are boxes of that map).
   */
  public NDArray forward(NDArray x, Conditioning cond, long height, long width) {
    // K/V come from the request's cache, made outside this block's scope so they outlive it.
    KeyValue kv = cond.keyValue(attn2);
    List<KeyValue> regional = new ArrayList<>();
    for (Conditioning.Regional r : cond.regions()) {
      regional.add(r.text().keyValue(attn2));
    }
    try (BlockScope s = BlockScope.open(x)) {
      NDArray a1 = attn1.forward(norm1.forward(x));
      ActivationProbe.record(path + ".attn1", a1);
      NDArray h = x.add(a1);
      NDArray q = norm2.forward(h);
      NDArray a2 = attn2.forward(q, kv);
      for (int i = 0; i < regional.size(); i++) {
        // Inside the box the region's text replaces the prompt's: a2 + mask * (region - a2).
        NDArray mask =
            cond.regions()
                .get(i)
                .box()
                .tokenMask(height, width, a2.getDataType(), a2.getManager())
                .toDevice(a2.getDevice(), false);
        NDArray inside = attn2.forward(q, regional.get(i));
        a2 = a2.add(inside.sub(a2).mul(mask));
      }
      ActivationProbe.record(path + ".attn2", a2);
      h = h.add(a2);
      return s.keep(h.add(ff.forward(norm3.forward(h))));
    }
  }
}
