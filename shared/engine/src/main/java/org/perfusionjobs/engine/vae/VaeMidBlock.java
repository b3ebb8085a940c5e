package org.perfusionjobs.engine.vae;

import ai.djl.ndarray.NDArray;
import org.perfusionjobs.engine.blocks.ResnetBlock2D;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * diffusers' UNetMidBlock2D as the VAE uses it: resnets.0, attentions.0, resnets.1, no time
 * embedding.
 */
public final class VaeMidBlock extends Module {
  public final ModuleList<ResnetBlock2D> resnets;
  public final ModuleList<MidBlockAttention> attentions;

  VaeMidBlock(int channels, int groups) {
    this.resnets = child("resnets", new ModuleList<>());
    this.attentions = child("attentions", new ModuleList<>());
    resnets.add(new ResnetBlock2D(channels, channels, 0, groups, 1e-6f));
    attentions.add(new MidBlockAttention(channels, groups));
    resnets.add(new ResnetBlock2D(channels, channels, 0, groups, 1e-6f));
  }

  NDArray forward(NDArray x) {
    NDArray r = resnets.get(0).forward(x, null);
    NDArray a = attentions.get(0).forward(r);
    BlockScope.release(r);
    NDArray out = resnets.get(1).forward(a, null);
    BlockScope.release(a);
    return out;
  }
}
