package org.perfusionjobs.engine.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Conv2d;
import org.perfusionjobs.engine.nn.Module;

/**
 * Strided 3x3 conv halving H and W (key {@code conv}). With padding 0 (the VAE encoder) the input
 * is first zero-padded by one pixel on the right and bottom only, as diffusers does.
 */
public final class Downsample2D extends Module {
  public final int padding;
  public final Conv2d conv; // (Cout, Cin, 3, 3)

  public Downsample2D(int inChannels, int outChannels, int padding) {
    this.padding = padding;
    this.conv = child("conv", new Conv2d(inChannels, outChannels, 3, 2, padding));
  }

  /** x: (B, C, H, W) → (B, Cout, ceil(H/2), ceil(W/2)). */
  public NDArray forward(NDArray x) {
    if (padding != 0) {
      return conv.forward(x);
    }
    try (BlockScope s = BlockScope.open(x)) {
      // pad spec is (last-axis before, after, second-to-last before, after, ...)
      return s.keep(conv.forward(x.pad(new Shape(0, 1, 0, 1), 0)));
    }
  }
}
