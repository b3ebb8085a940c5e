package org.perfusionjobs.engine.vae;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.Activations;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Conv2d;
import org.perfusionjobs.engine.nn.GroupNorm;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * Latent (B, latent, h, w) → image (B, 3, h f, w f): conv_in, mid_block, up_blocks over the
 * reversed widths (layers_per_block + 1 resnets each), norm, conv_out.
 */
public final class Decoder extends Module {
  public final Conv2d convIn; // (Clast, latent, 3, 3)
  public final VaeMidBlock midBlock;
  public final ModuleList<VaeBlock> upBlocks;
  public final GroupNorm convNormOut; // (C0)
  public final Conv2d convOut; // (3, C0, 3, 3)

  Decoder(AutoencoderKLConfig cfg) {
    List<Integer> rev = new ArrayList<>(cfg.blockOutChannels());
    Collections.reverse(rev);
    int n = rev.size();
    this.convIn = child("conv_in", new Conv2d(cfg.latentChannels(), rev.get(0), 3, 1, 1));
    this.midBlock = child("mid_block", new VaeMidBlock(rev.get(0), cfg.normNumGroups()));
    this.upBlocks = child("up_blocks", new ModuleList<>());
    int out = rev.get(0);
    for (int i = 0; i < n; i++) {
      int in = out;
      out = rev.get(i);
      upBlocks.add(VaeBlock.up(in, out, cfg.layersPerBlock() + 1, cfg.normNumGroups(), i < n - 1));
    }
    this.convNormOut =
        child("conv_norm_out", new GroupNorm(cfg.normNumGroups(), rev.get(n - 1), 1e-6f));
    this.convOut = child("conv_out", new Conv2d(rev.get(n - 1), cfg.outChannels(), 3, 1, 1));
  }

  NDArray forward(NDArray z) {
    // Each stage's output is dead once the next has run (the blocks free their own inside).
    try (BlockScope s = BlockScope.open(z)) {
      NDArray in = convIn.forward(z);
      NDArray x = midBlock.forward(in);
      BlockScope.release(in);
      ActivationProbe.record("decode.decoder.mid_block", x);
      for (VaeBlock up : upBlocks) {
        NDArray next = up.forward(x);
        BlockScope.release(x);
        x = next;
      }
      NDArray normed = convNormOut.forward(x);
      BlockScope.release(x);
      ActivationProbe.record("decode.decoder.conv_norm_out", normed);
      NDArray act = Activations.silu(normed);
      BlockScope.release(normed);
      return s.keep(convOut.forward(act));
    }
  }
}
