package org.perfusionjobs.engine.unet;

import ai.djl.ndarray.NDArray;
import java.util.List;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.blocks.ResnetBlock2D;
import org.perfusionjobs.engine.blocks.Upsample2D;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * An up block: layers_per_block + 1 {@code resnets}, each concatenating the most recent skip
 * ({@code cat([x, skip], 1)}), optionally a transformer after each ({@link CrossAttnUpBlock2D}),
 * and {@code upsamplers.0} except in the last block.
 */
public abstract class UNetUpBlock extends Module {
  public final ModuleList<ResnetBlock2D> resnets;
  public final ModuleList<Transformer2DModel> attentions; // empty for UpBlock2D
  public final ModuleList<Upsample2D> upsamplers; // empty in the last block
  String path = "";

  /**
   * @param in width of the skips of the matching down block's input
   * @param prevOut width coming up from the previous up block (or the mid block)
   */
  UNetUpBlock(
      UNet2DConditionConfig cfg,
      int in,
      int out,
      int prevOut,
      int heads,
      boolean attention,
      boolean upsample) {
    int layers = cfg.layersPerBlock() + 1;
    this.resnets = child("resnets", new ModuleList<>());
    this.attentions = attention ? child("attentions", new ModuleList<>()) : new ModuleList<>();
    for (int i = 0; i < layers; i++) {
      int skip = i == layers - 1 ? in : out;
      int resIn = i == 0 ? prevOut : out;
      resnets.add(
          new ResnetBlock2D(
              resIn + skip, out, cfg.timeEmbedDim(), cfg.normNumGroups(), cfg.normEps()));
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
    this.upsamplers = upsample ? child("upsamplers", new ModuleList<>()) : new ModuleList<>();
    if (upsample) {
      upsamplers.add(new Upsample2D(out, out));
    }
  }

  /**
   * @param skips the remaining skips; this block pops one per resnet from the end
   * @param outH height after upsampling (the next skip's height, so odd sizes come back exactly)
   */
  NDArray forward(
      NDArray x, NDArray temb, Conditioning cond, List<NDArray> skips, long outH, long outW) {
    // x and the skips were made by the UNet's forward; each is dead once consumed here.
    for (int i = 0; i < resnets.size(); i++) {
      NDArray skip = skips.remove(skips.size() - 1);
      NDArray joined = x.concat(skip, 1);
      BlockScope.release(x);
      BlockScope.release(skip);
      x = resnets.get(i).forward(joined, temb);
      BlockScope.release(joined);
      ActivationProbe.record(path + ".resnets." + i, x);
      if (!attentions.isEmpty()) {
        NDArray r = x;
        x = attentions.get(i).forward(r, cond);
        BlockScope.release(r);
        ActivationProbe.record(path + ".attentions." + i, x);
      }
    }
    if (!upsamplers.isEmpty()) {
      NDArray r = x;
      x = upsamplers.get(0).forward(r, outH, outW);
      BlockScope.release(r);
    }
    return x;
  }
}
