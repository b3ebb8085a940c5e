package org.perfusionjobs.engine.unet;

import ai.djl.ndarray.NDArray;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.blocks.ResnetBlock2D;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/** The middle: resnets.0, attentions.0, resnets.1 at the narrowest resolution. */
public final class UNetMidBlock2DCrossAttn extends Module {
  public final ModuleList<ResnetBlock2D> resnets;
  public final ModuleList<Transformer2DModel> attentions;

  UNetMidBlock2DCrossAttn(UNet2DConditionConfig cfg, int channels, int heads) {
    this.resnets = child("resnets", new ModuleList<>());
    this.attentions = child("attentions", new ModuleList<>());
    resnets.add(
        new ResnetBlock2D(
            channels, channels, cfg.timeEmbedDim(), cfg.normNumGroups(), cfg.normEps()));
    attentions.add(
        new Transformer2DModel(
            channels,
            heads,
            cfg.crossAttentionDim(),
            cfg.normNumGroups(),
            cfg.transformerLayersPerBlock(),
            cfg.useLinearProjection()));
    resnets.add(
        new ResnetBlock2D(
            channels, channels, cfg.timeEmbedDim(), cfg.normNumGroups(), cfg.normEps()));
  }

  NDArray forward(NDArray x, NDArray temb, Conditioning cond) {
    // Called by the UNet's forward only, with its own x: each intermediate is dead once used.
    NDArray r = resnets.get(0).forward(x, temb);
    NDArray a = attentions.get(0).forward(r, cond);
    BlockScope.release(r);
    ActivationProbe.record("mid_block.attentions.0", a);
    NDArray out = resnets.get(1).forward(a, temb);
    BlockScope.release(a);
    return out;
  }
}
