package org.perfusionjobs.engine.unet;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.AttentionProcessor;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.StateDictLoader;
import org.perfusionjobs.engine.io.WeightFiles;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.Activations;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Conv2d;
import org.perfusionjobs.engine.nn.GroupNorm;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * diffusers' UNet2DConditionModel for Stable Diffusion v1.x: predicts the noise in a latent at a
 * timestep, conditioned on the text through cross-attention. Children mirror the checkpoint: {@code
 * conv_in, time_embedding, down_blocks, mid_block, up_blocks, conv_norm_out, conv_out}.
 *
 * <p>Legend: B batch, 4 latent channels, h/w latent size, T text tokens, D text width.
 */
public final class UNet2DConditionModel extends Module {
  private final UNet2DConditionConfig config;
  public final Conv2d convIn; // (C0, in, 3, 3)
  public final TimestepEmbedding timeEmbedding; // linear_1 (4 C0, C0), linear_2 (4 C0, 4 C0)
  public final ModuleList<UNetDownBlock> downBlocks;
  public final UNetMidBlock2DCrossAttn midBlock;
  public final ModuleList<UNetUpBlock> upBlocks;
  public final GroupNorm convNormOut; // (C0)
  public final Conv2d convOut; // (out, C0, 3, 3)
  private final List<Attention> crossAttentions;

  public UNet2DConditionModel(UNet2DConditionConfig cfg) {
    this.config = cfg;
    List<Integer> ch = cfg.blockOutChannels();
    int n = ch.size();
    this.convIn = child("conv_in", new Conv2d(cfg.inChannels(), ch.get(0), 3, 1, 1));
    this.timeEmbedding =
        child(
            "time_embedding",
            new TimestepEmbedding(
                ch.get(0), cfg.timeEmbedDim(), cfg.flipSinToCos(), cfg.freqShift()));
    this.downBlocks = child("down_blocks", new ModuleList<>());
    int out = ch.get(0);
    for (int i = 0; i < n; i++) {
      int in = out;
      out = ch.get(i);
      boolean last = i == n - 1;
      downBlocks.add(
          cfg.downBlockTypes().get(i).equals("CrossAttnDownBlock2D")
              ? new CrossAttnDownBlock2D(cfg, in, out, cfg.headCounts().get(i), !last)
              : new DownBlock2D(cfg, in, out, !last));
    }
    this.midBlock =
        child(
            "mid_block",
            new UNetMidBlock2DCrossAttn(cfg, ch.get(n - 1), cfg.headCounts().get(n - 1)));
    this.upBlocks = child("up_blocks", new ModuleList<>());
    List<Integer> rev = new ArrayList<>(ch);
    Collections.reverse(rev);
    List<Integer> revHeads = new ArrayList<>(cfg.headCounts());
    Collections.reverse(revHeads);
    out = rev.get(0);
    for (int i = 0; i < n; i++) {
      int prevOut = out;
      out = rev.get(i);
      int in = rev.get(Math.min(i + 1, n - 1));
      boolean last = i == n - 1;
      upBlocks.add(
          cfg.upBlockTypes().get(i).equals("CrossAttnUpBlock2D")
              ? new CrossAttnUpBlock2D(cfg, in, out, prevOut, revHeads.get(i), !last)
              : new UpBlock2D(cfg, in, out, prevOut, !last));
    }
    this.convNormOut =
        child("conv_norm_out", new GroupNorm(cfg.normNumGroups(), ch.get(0), cfg.normEps()));
    this.convOut = child("conv_out", new Conv2d(ch.get(0), cfg.outChannels(), 3, 1, 1));

    List<Attention> cross = new ArrayList<>();
    visit(
        (path, m) -> {
          if (m instanceof Attention a) {
            a.setPath(path);
            if (path.endsWith(".attn2")) {
              cross.add(a);
            }
          } else if (m instanceof BasicTransformerBlock b) {
            b.path = path;
          } else if (m instanceof UNetDownBlock d) {
            d.path = path;
          } else if (m instanceof UNetUpBlock u) {
            u.path = path;
          }
        });
    this.crossAttentions = List.copyOf(cross);
  }

  /** Reads {@code config.json} and the weights (fp32 or fp16 file) of a diffusers unet folder. */
  public static UNet2DConditionModel load(
      Path dir, NDManager manager, DataType dtype, Device device) throws IOException {
    UNet2DConditionConfig cfg =
        Configs.read(dir.resolve("config.json"), UNet2DConditionConfig.class);
    UNet2DConditionModel unet = new UNet2DConditionModel(cfg);
    Path weights = WeightFiles.find(dir, "diffusion_pytorch_model");
    try (SafetensorsFile f = SafetensorsFile.open(weights)) {
      StateDictLoader.strict().load(unet, f, manager, dtype, device);
    }
    return unet;
  }

  public UNet2DConditionConfig config() {
    return config;
  }

  /** Every cross-attention layer ({@code attn2}) in module order, with its path set. */
  public List<Attention> crossAttentions() {
    return crossAttentions;
  }

  /** Sets the default K/V processor of every cross-attention layer. */
  public void setCrossAttentionProcessor(AttentionProcessor processor) {
    crossAttentions.forEach(a -> a.setProcessor(processor));
  }

  /**
   * @param sample (B, 4, h, w) noisy latents
   * @param timestep 0-d or (B), integer or fractional
   * @param cond the text side; cross-attention K/V are taken from (and cached in) it; its UNet
   *     weight edits are in force during this call only
   * @return (B, out, h, w) the model output (noise prediction for SD v1.x)
   */
  public NDArray forward(NDArray sample, NDArray timestep, Conditioning cond) {
    try (var edits = cond.unetEdits().install(this)) {
      return forwardWithEdits(sample, timestep, cond);
    }
  }

  private NDArray forwardWithEdits(NDArray sample, NDArray timestep, Conditioning cond) {
    long b = sample.getShape().get(0);
    if (cond.batchSize() != b) {
      throw new IllegalArgumentException(
          "latents batch " + b + " differs from text batch " + cond.batchSize());
    }
    // One scope for the whole pass: the skips and block outputs live in it and are closed as
    // soon as the up path has consumed them (see UNetUpBlock), each block frees its own
    // intermediates, and only the prediction leaves.
    try (BlockScope s = BlockScope.open(sample, timestep)) {
      NDArray t =
          timestep.getShape().dimension() == 0 ? timestep.reshape(1).repeat(0, b) : timestep;
      NDArray features = timeEmbedding.project(t);
      ActivationProbe.record("time_proj", features);
      NDArray temb = timeEmbedding.embed(features.toType(sample.getDataType(), false));
      ActivationProbe.record("time_embedding", temb);

      NDArray x = convIn.forward(sample);
      ActivationProbe.record("conv_in", x);
      List<NDArray> skips = new ArrayList<>();
      skips.add(x);
      for (int i = 0; i < downBlocks.size(); i++) {
        x = downBlocks.get(i).forward(x, temb, cond, skips);
        ActivationProbe.record("down_blocks." + i, x);
      }
      NDArray mid = midBlock.forward(x, temb, cond);
      NDArray last = x;
      if (skips.stream().noneMatch(k -> k == last)) {
        BlockScope.release(x);
      }
      x = mid;
      ActivationProbe.record("mid_block", x);
      for (int i = 0; i < upBlocks.size(); i++) {
        UNetUpBlock up = upBlocks.get(i);
        int remaining = skips.size() - up.resnets.size();
        long outH =
            remaining > 0 ? skips.get(remaining - 1).getShape().get(2) : x.getShape().get(2) * 2;
        long outW =
            remaining > 0 ? skips.get(remaining - 1).getShape().get(3) : x.getShape().get(3) * 2;
        x = up.forward(x, temb, cond, skips, outH, outW);
        ActivationProbe.record("up_blocks." + i, x);
      }
      NDArray normed = convNormOut.forward(x);
      BlockScope.release(x);
      ActivationProbe.record("conv_norm_out", normed);
      return s.keep(convOut.forward(Activations.silu(normed)));
    }
  }
}
