package org.perfusionjobs.engine.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Conv2d;
import org.perfusionjobs.engine.nn.Module;

/** Nearest-neighbour x2 upsampling then a 3x3 conv (key {@code conv}). */
public final class Upsample2D extends Module {
  public final Conv2d conv; // (Cout, Cin, 3, 3)

  public Upsample2D(int inChannels, int outChannels) {
    this.conv = child("conv", new Conv2d(inChannels, outChannels, 3, 1, 1));
  }

  /**
   * @param x (B, C, H, W)
   * @param outH target height, 2H or 2H-1 (odd sizes on the way down); outW likewise
   * @return (B, Cout, outH, outW)
   */
  public NDArray forward(NDArray x, long outH, long outW) {
    try (BlockScope s = BlockScope.open(x)) {
      NDArray up = BlockScope.consume(x.repeat(2, 2), r -> r.repeat(3, 2));
      // For a target of 2n-1, torch's nearest index floor(i*n/(2n-1)) equals repeat-then-crop.
      if (up.getShape().get(2) != outH || up.getShape().get(3) != outW) {
        up = up.get(new NDIndex(":, :, :{}, :{}", outH, outW));
      }
      return s.keep(conv.forward(up));
    }
  }

  public NDArray forward(NDArray x) {
    return forward(x, x.getShape().get(2) * 2, x.getShape().get(3) * 2);
  }
}
