package org.perfusionjobs.engine.vae;

import ai.djl.ndarray.NDArray;
import java.util.Objects;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.AttentionSlicing;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.GroupNorm;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * The VAE mid-block's single-head self-attention over all H*W positions: {@code group_norm} (eps
 * 1e-6), {@code to_q/to_k/to_v} and {@code to_out.0} with biases, residual. Legend: B batch, C
 * channels, N = H*W positions.
 */
public final class MidBlockAttention extends Module implements AttentionSlicing.Settable {
  public final GroupNorm groupNorm; // (C)
  public final Linear toQ; // (C, C)
  public final Linear toK; // (C, C)
  public final Linear toV; // (C, C)
  public final Linear toOut; // (C, C): to_out.0
  private final int channels;
  private volatile AttentionSlicing slicing = AttentionSlicing.AUTO;

  MidBlockAttention(int channels, int groups) {
    this.channels = channels;
    this.groupNorm = child("group_norm", new GroupNorm(groups, channels, 1e-6f));
    this.toQ = child("to_q", new Linear(channels, channels, true));
    this.toK = child("to_k", new Linear(channels, channels, true));
    this.toV = child("to_v", new Linear(channels, channels, true));
    ModuleList<Linear> out = child("to_out", new ModuleList<>());
    this.toOut = out.add(new Linear(channels, channels, true));
  }

  /** x: (B, C, H, W) → (B, C, H, W). */
  public NDArray forward(NDArray x) {
    long b = x.getShape().get(0);
    long h = x.getShape().get(2);
    long w = x.getShape().get(3);
    try (BlockScope s = BlockScope.open(x)) {
      NDArray t = groupNorm.forward(x).reshape(b, channels, h * w).transpose(0, 2, 1); // (B, N, C)
      NDArray a =
          Attention.scaledDotProduct(
              toQ.forward(t), toK.forward(t), toV.forward(t), 1, channels, slicing);
      NDArray out = toOut.forward(a).transpose(0, 2, 1).reshape(b, channels, h, w);
      return s.keep(out.add(x));
    }
  }

  public AttentionSlicing attentionSlicing() {
    return slicing;
  }

  @Override
  public void setAttentionSlicing(AttentionSlicing slicing) {
    this.slicing = Objects.requireNonNull(slicing, "slicing");
  }
}
