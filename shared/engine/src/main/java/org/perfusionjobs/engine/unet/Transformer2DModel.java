package org.perfusionjobs.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Conv2d;
import org.perfusionjobs.engine.nn.GroupNorm;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * Spatial transformer over a feature map: GroupNorm (eps 1e-6), {@code proj_in} (1x1 conv, or a
 * Linear with {@code use_linear_projection}), transformer blocks over the H*W tokens, {@code
 * proj_out}, residual. Legend: B batch, C channels, H/W spatial.
 */
public final class Transformer2DModel extends Module {
  public final GroupNorm norm; // (C)
  public final Module projIn; // Conv2d (C, C, 1, 1) or Linear (C, C)
  public final ModuleList<BasicTransformerBlock> transformerBlocks;
  public final Module projOut; // Conv2d (C, C, 1, 1) or Linear (C, C)
  private final boolean linearProjection;

  Transformer2DModel(
      int channels,
      int heads,
      int crossAttentionDim,
      int groups,
      int layers,
      boolean linearProjection) {
    this.linearProjection = linearProjection;
    this.norm = child("norm", new GroupNorm(groups, channels, 1e-6f));
    this.projIn =
        child(
            "proj_in",
            linearProjection
                ? new Linear(channels, channels, true)
                : new Conv2d(channels, channels, 1, 1, 0));
    this.transformerBlocks = child("transformer_blocks", new ModuleList<>());
    for (int i = 0; i < layers; i++) {
      transformerBlocks.add(new BasicTransformerBlock(channels, heads, crossAttentionDim));
    }
    this.projOut =
        child(
            "proj_out",
            linearProjection
                ? new Linear(channels, channels, true)
                : new Conv2d(channels, channels, 1, 1, 0));
  }

  /** x: (B, C, H, W) → (B, C, H, W). */
  public NDArray forward(NDArray x, Conditioning cond) {
    Shape s = x.getShape();
    long b = s.get(0);
    long c = s.get(1);
    long h = s.get(2);
    long w = s.get(3);
    try (BlockScope scope = BlockScope.open(x)) {
      NDArray t = norm.forward(x);
      if (linearProjection) {
        t = ((Linear) projIn).forward(t.transpose(0, 2, 3, 1).reshape(b, h * w, c));
      } else {
        t = ((Conv2d) projIn).forward(t).transpose(0, 2, 3, 1).reshape(b, h * w, c);
      }
      for (BasicTransformerBlock block : transformerBlocks) {
        NDArray next = block.forward(t, cond, h, w);
        BlockScope.release(t); // made in this scope and dead now
        t = next;
      }
      if (linearProjection) {
        t = ((Linear) projOut).forward(t).reshape(b, h, w, c).transpose(0, 3, 1, 2);
      } else {
        t = ((Conv2d) projOut).forward(t.reshape(b, h, w, c).transpose(0, 3, 1, 2));
      }
      return scope.keep(t.add(x));
    }
  }
}
