package org.perfusionjobs.engine.unet;

import ai.djl.ndarray.NDArray;
import java.util.List;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.blocks.Downsample2D;
import org.perfusionjobs.engine.blocks.ResnetBlock2D;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * A down block: {@code resnets}, optionally one {@code attentions} transformer after each resnet
 * ({@link CrossAttnDownBlock2D}), and a strided-conv {@code downsamplers.0} except in the last
 * block. Every resnet (or resnet + attention) output and the downsampler output are skips for the
 * up path.
 */
public abstract class UNetDownBlock extends Module {
  public final ModuleList<ResnetBlock2D> resnets;
  public final ModuleList<Transformer2DModel> attentions; // empty for DownBlock2D
  public final ModuleList<Downsample2D> downsamplers; // empty in the last block
  String path = "";

  UNetDownBlock(
      UNet2DConditionConfig cfg,
      int in,
      int out,
      int heads,
      boolean attention,
      boolean downsample) {
    this.resnets = child("resnets", new ModuleList<>());
    this.attentions = attention ? child("attentions", new ModuleList<>()) : new ModuleList<>();
    for (int i = 0; i < cfg.layersPerBlock(); i++) {
      resnets.add(
          new ResnetBlock2D(
              i == 0 ? in : out, out, cfg.timeEmbedDim(), cfg.normNumGroups(), cfg.normEps()));
      if (attention) {
        attentions.add(
            new Transformer2DModel(
                out,
                heads,
                cfg.crossAttentionDim(),
                cfg.normNumGroups(),
                cfg.transformerLayersPerBlock(),
                cfg.useLinearProjection()));
      }
    }
    this.downsamplers = downsample ? child("downsamplers", new ModuleList<>()) : new ModuleList<>();
    if (downsample) {
      downsamplers.add(new Downsample2D(out, out, cfg.downsamplePadding()));
    }
  }

  /** x: (B, Cin, H, W) → (B, Cout, H', W'); appends this block's skips. */
  NDArray forward(NDArray x, NDArray temb, Conditioning cond, List<NDArray> skips) {
    for (int i = 0; i < resnets.size(); i++) {
      x = resnets.get(i).forward(x, temb);
      ActivationProbe.record(path + ".resnets." + i, x);
      if (!attentions.isEmpty()) {
        NDArray r = x;
        x = attentions.get(i).forward(r, cond);
        BlockScope.release(r); // the resnet's output is no skip when an attention follows
        ActivationProbe.record(path + ".attentions." + i, x);
      }
      skips.add(x);
    }
    if (!downsamplers.isEmpty()) {
      x = downsamplers.get(0).forward(x);
      skips.add(x);
    }
    return x;
  }
}
