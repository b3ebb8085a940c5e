package org.perfusionjobs.engine.vae;

import ai.djl.ndarray.NDArray;
import java.util.List;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.Activations;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Conv2d;
import org.perfusionjobs.engine.nn.GroupNorm;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * Image (B, 3, H, W) → moments (B, 2 x latent, H/f, W/f): conv_in, down_blocks, mid_block, norm,
 * conv_out.
 */
public final class Encoder extends Module {
  public final Conv2d convIn; // (C0, 3, 3, 3)
  public final ModuleList<VaeBlock> downBlocks;
  public final VaeMidBlock midBlock;
  public final GroupNorm convNormOut; // (Clast)
  public final Conv2d convOut; // (2 latent, Clast, 3, 3)

  Encoder(AutoencoderKLConfig cfg) {
    List<Integer> ch = cfg.blockOutChannels();
    int n = ch.size();
    this.convIn = child("conv_in", new Conv2d(cfg.inChannels(), ch.get(0), 3, 1, 1));
    this.downBlocks = child("down_blocks", new ModuleList<>());
    int out = ch.get(0);
    for (int i = 0; i < n; i++) {
      int in = out;
      out = ch.get(i);
      downBlocks.add(VaeBlock.down(in, out, cfg.layersPerBlock(), cfg.normNumGroups(), i < n - 1));
    }
    this.midBlock = child("mid_block", new VaeMidBlock(ch.get(n - 1), cfg.normNumGroups()));
    this.convNormOut =
        child("conv_norm_out", new GroupNorm(cfg.normNumGroups(), ch.get(n - 1), 1e-6f));
    this.convOut = child("conv_out", new Conv2d(ch.get(n - 1), 2 * cfg.latentChannels(), 3, 1, 1));
  }

  NDArray forward(NDArray image) {
    // Each stage's output is dead once the next has run (the blocks free their own inside).
    try (BlockScope s = BlockScope.open(image)) {
      NDArray x = convIn.forward(image);
      for (int i = 0; i < downBlocks.size(); i++) {
        NDArray next = downBlocks.get(i).forward(x);
        BlockScope.release(x);
        x = next;
        ActivationProbe.record("encode.encoder.down_blocks." + i, x);
      }
      NDArray mid = midBlock.forward(x);
      BlockScope.release(x);
      ActivationProbe.record("encode.encoder.mid_block", mid);
      NDArray normed = convNormOut.forward(mid);
      BlockScope.release(mid);
      NDArray act = Activations.silu(normed);
      BlockScope.release(normed);
      return s.keep(convOut.forward(act));
    }
  }
}
