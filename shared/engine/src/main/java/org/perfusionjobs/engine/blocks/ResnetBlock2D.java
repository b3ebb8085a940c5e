package org.perfusionjobs.engine.blocks;

import static org.perfusionjobs.engine.nn.BlockScope.consume;

import ai.djl.ndarray.NDArray;
import org.perfusionjobs.engine.nn.Activations;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Conv2d;
import org.perfusionjobs.engine.nn.GroupNorm;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Module;

/**
 * diffusers' ResnetBlock2D (default "default" time-embedding norm, SiLU, output scale 1): two
 * GroupNorm-SiLU-conv stages, the time embedding added per channel after the first conv, and a 1x1
 * conv shortcut when the width changes. Used by the UNet (with time embedding) and the VAE
 * (without).
 *
 * <p>Legend: B batch, Cin/Cout channels, H/W spatial, E time-embedding width.
 */
public final class ResnetBlock2D extends Module {
  public final GroupNorm norm1; // (Cin)
  public final Conv2d conv1; // (Cout, Cin, 3, 3)
  public final Linear timeEmbProj; // (Cout, E) or null
  public final GroupNorm norm2; // (Cout)
  public final Conv2d conv2; // (Cout, Cout, 3, 3)
  public final Conv2d convShortcut; // (Cout, Cin, 1, 1) or null

  /**
   * @param tembChannels width of the time embedding, or 0 for none (VAE)
   */
  public ResnetBlock2D(int inChannels, int outChannels, int tembChannels, int groups, float eps) {
    this.norm1 = child("norm1", new GroupNorm(groups, inChannels, eps));
    this.conv1 = child("conv1", new Conv2d(inChannels, outChannels, 3, 1, 1));
    this.timeEmbProj =
        tembChannels > 0
            ? child("time_emb_proj", new Linear(tembChannels, outChannels, true))
            : null;
    this.norm2 = child("norm2", new GroupNorm(groups, outChannels, eps));
    this.conv2 = child("conv2", new Conv2d(outChannels, outChannels, 3, 1, 1));
    this.convShortcut =
        inChannels != outChannels
            ? child("conv_shortcut", new Conv2d(inChannels, outChannels, 1, 1, 0))
            : null;
  }

  /**
   * @param x (B, Cin, H, W)
   * @param temb (B, E), or null when the block has no time embedding
   * @return (B, Cout, H, W)
   */
  public NDArray forward(NDArray x, NDArray temb) {
    if (timeEmbProj != null && temb == null) {
      throw new IllegalArgumentException("ResnetBlock2D with time_emb_proj needs a time embedding");
    }
    // Each temporary is released as soon as it is used: at VAE resolutions one is 128-256 MB.
    try (BlockScope s = BlockScope.open(x, temb)) {
      NDArray h = consume(consume(norm1.forward(x), Activations::silu), conv1::forward);
      if (timeEmbProj != null) {
        NDArray t = timeEmbProj.forward(Activations.silu(temb));
        h = consume(h, a -> a.add(t.expandDims(-1).expandDims(-1)));
      }
      h = consume(consume(consume(h, norm2::forward), Activations::silu), conv2::forward);
      NDArray skip = convShortcut == null ? x : convShortcut.forward(x);
      NDArray out = consume(h, skip::add);
      if (skip != x) {
        BlockScope.release(skip);
      }
      return s.keep(out);
    }
  }
}
