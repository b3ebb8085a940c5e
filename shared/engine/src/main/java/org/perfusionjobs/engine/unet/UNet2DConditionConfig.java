package org.perfusionjobs.engine.unet;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@code unet/config.json} of a diffusers UNet2DConditionModel, the subset SD v1.x/v2.x uses.
 *
 * <p>Head counts: diffusers names the per-block number of heads {@code attention_head_dim} in SD
 * configs (a naming mistake kept for compatibility) and only newer configs use {@code
 * num_attention_heads}. We read them as diffusers does — {@code num_attention_heads} if set, else
 * {@code attention_head_dim} — and call the result {@link #headCounts}.
 */
public record UNet2DConditionConfig(
    int sampleSize,
    int inChannels,
    int outChannels,
    List<Integer> blockOutChannels,
    int layersPerBlock,
    List<String> downBlockTypes,
    List<String> upBlockTypes,
    String midBlockType,
    int crossAttentionDim,
    List<Integer> headCounts,
    int normNumGroups,
    float normEps,
    boolean flipSinToCos,
    int freqShift,
    int downsamplePadding,
    String actFn,
    boolean useLinearProjection,
    int transformerLayersPerBlock) {

  static final Set<String> DOWN = Set.of("CrossAttnDownBlock2D", "DownBlock2D");
  static final Set<String> UP = Set.of("CrossAttnUpBlock2D", "UpBlock2D");

  public UNet2DConditionConfig {
    int n = blockOutChannels.size();
    if (n == 0 || downBlockTypes.size() != n || upBlockTypes.size() != n) {
      throw new IllegalArgumentException(
          "block_out_channels "
              + blockOutChannels
              + ", down_block_types "
              + downBlockTypes
              + " and up_block_types "
              + upBlockTypes
              + " must have the same non-zero length");
    }
    for (String t : downBlockTypes) {
      if (!DOWN.contains(t)) {
        throw new IllegalArgumentException(
            "down block type '" + t + "' is not supported (" + DOWN + ")");
      }
    }
    for (String t : upBlockTypes) {
      if (!UP.contains(t)) {
        throw new IllegalArgumentException(
            "up block type '" + t + "' is not supported (" + UP + ")");
      }
    }
    if (!"UNetMidBlock2DCrossAttn".equals(midBlockType)) {
      throw new IllegalArgumentException(
          "mid block type '" + midBlockType + "' is not supported (UNetMidBlock2DCrossAttn)");
    }
    if (headCounts.size() != n) {
      throw new IllegalArgumentException(
          "attention heads " + headCounts + " must have one entry per block (" + n + ")");
    }
    for (int i = 0; i < n; i++) {
      int c = blockOutChannels.get(i);
      if (c % normNumGroups != 0) {
        throw new IllegalArgumentException(
            "block_out_channels["
                + i
                + "] = "
                + c
                + " is not divisible by norm_num_groups "
                + normNumGroups);
      }
      if (c % headCounts.get(i) != 0) {
        throw new IllegalArgumentException(
            "block_out_channels["
                + i
                + "] = "
                + c
                + " is not divisible by its "
                + headCounts.get(i)
                + " attention heads");
      }
    }
    if (!"silu".equals(actFn) && !"swish".equals(actFn)) {
      throw new IllegalArgumentException("act_fn '" + actFn + "' is not supported (silu)");
    }
    if (layersPerBlock < 1 || transformerLayersPerBlock < 1) {
      throw new IllegalArgumentException(
          "layers_per_block "
              + layersPerBlock
              + " and transformer_layers_per_block "
              + transformerLayersPerBlock
              + " must be >= 1");
    }
    blockOutChannels = List.copyOf(blockOutChannels);
    downBlockTypes = List.copyOf(downBlockTypes);
    upBlockTypes = List.copyOf(upBlockTypes);
    headCounts = List.copyOf(headCounts);
  }

  /** Reads the JSON as diffusers does: scalars broadcast to one value per block. */
  @JsonCreator
  static UNet2DConditionConfig fromJson(
      @JsonProperty("sample_size") Integer sampleSize,
      @JsonProperty("in_channels") Integer inChannels,
      @JsonProperty("out_channels") Integer outChannels,
      @JsonProperty("block_out_channels") List<Integer> blockOutChannels,
      @JsonProperty("layers_per_block") JsonNode layersPerBlock,
      @JsonProperty("down_block_types") List<String> downBlockTypes,
      @JsonProperty("up_block_types") List<String> upBlockTypes,
      @JsonProperty("mid_block_type") String midBlockType,
      @JsonProperty("cross_attention_dim") JsonNode crossAttentionDim,
      @JsonProperty("attention_head_dim") JsonNode attentionHeadDim,
      @JsonProperty("num_attention_heads") JsonNode numAttentionHeads,
      @JsonProperty("norm_num_groups") Integer normNumGroups,
      @JsonProperty("norm_eps") Float normEps,
      @JsonProperty("flip_sin_to_cos") Boolean flipSinToCos,
      @JsonProperty("freq_shift") Integer freqShift,
      @JsonProperty("downsample_padding") Integer downsamplePadding,
      @JsonProperty("act_fn") String actFn,
      @JsonProperty("use_linear_projection") Boolean useLinearProjection,
      @JsonProperty("transformer_layers_per_block") JsonNode transformerLayersPerBlock,
      @JsonProperty("only_cross_attention") JsonNode onlyCrossAttention,
      @JsonProperty("upcast_attention") Boolean upcastAttention,
      @JsonProperty("class_embed_type") String classEmbedType,
      @JsonProperty("addition_embed_type") String additionEmbedType,
      @JsonProperty("time_embedding_type") String timeEmbeddingType,
      @JsonProperty("resnet_time_scale_shift") String resnetTimeScaleShift) {
    List<Integer> channels =
        blockOutChannels != null ? blockOutChannels : List.of(320, 640, 1280, 1280);
    int n = channels.size();
    requireUnset(classEmbedType, "class_embed_type");
    requireUnset(additionEmbedType, "addition_embed_type");
    if (timeEmbeddingType != null && !timeEmbeddingType.equals("positional")) {
      throw new IllegalArgumentException(
          "time_embedding_type '" + timeEmbeddingType + "' is not supported (positional)");
    }
    if (resnetTimeScaleShift != null && !resnetTimeScaleShift.equals("default")) {
      throw new IllegalArgumentException(
          "resnet_time_scale_shift '" + resnetTimeScaleShift + "' is not supported (default)");
    }
    if (onlyCrossAttention != null
        && (onlyCrossAttention.asBoolean(false)
            || onlyCrossAttention.isArray() && onlyCrossAttention.toString().contains("true"))) {
      throw new IllegalArgumentException("only_cross_attention true is not supported");
    }
    if (Boolean.TRUE.equals(upcastAttention)) {
      throw new IllegalArgumentException(
          "upcast_attention true is not supported (SD v2.1 fp16 setting)");
    }
    JsonNode heads =
        numAttentionHeads != null && !numAttentionHeads.isNull()
            ? numAttentionHeads
            : attentionHeadDim;
    List<Integer> headList = perBlock(heads, n, 8, "attention heads");
    if (layersPerBlock != null && layersPerBlock.isArray()) {
      throw new IllegalArgumentException(
          "per-block layers_per_block " + layersPerBlock + " is not supported");
    }
    if (transformerLayersPerBlock != null && transformerLayersPerBlock.isArray()) {
      throw new IllegalArgumentException(
          "per-block transformer_layers_per_block "
              + transformerLayersPerBlock
              + " is not supported");
    }
    if (crossAttentionDim != null && crossAttentionDim.isArray()) {
      throw new IllegalArgumentException(
          "per-block cross_attention_dim " + crossAttentionDim + " is not supported");
    }
    return new UNet2DConditionConfig(
        sampleSize != null ? sampleSize : 64,
        inChannels != null ? inChannels : 4,
        outChannels != null ? outChannels : 4,
        channels,
        layersPerBlock != null ? layersPerBlock.asInt() : 2,
        downBlockTypes != null
            ? downBlockTypes
            : List.of(
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "DownBlock2D"),
        upBlockTypes != null
            ? upBlockTypes
            : List.of(
                "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        midBlockType != null ? midBlockType : "UNetMidBlock2DCrossAttn",
        crossAttentionDim != null ? crossAttentionDim.asInt() : 1280,
        headList,
        normNumGroups != null ? normNumGroups : 32,
        normEps != null ? normEps : 1e-5f,
        flipSinToCos == null || flipSinToCos,
        freqShift != null ? freqShift : 0,
        downsamplePadding != null ? downsamplePadding : 1,
        actFn != null ? actFn : "silu",
        Boolean.TRUE.equals(useLinearProjection),
        transformerLayersPerBlock != null ? transformerLayersPerBlock.asInt() : 1);
  }

  private static void requireUnset(String value, String key) {
    if (value != null) {
      throw new IllegalArgumentException(key + " '" + value + "' is not supported");
    }
  }

  private static List<Integer> perBlock(JsonNode node, int n, int fallback, String what) {
    List<Integer> out = new ArrayList<>();
    if (node == null || node.isNull()) {
      for (int i = 0; i < n; i++) {
        out.add(fallback);
      }
    } else if (node.isArray()) {
      node.forEach(v -> out.add(v.asInt()));
      if (out.size() != n) {
        throw new IllegalArgumentException(what + " " + node + " must have " + n + " entries");
      }
    } else {
      for (int i = 0; i < n; i++) {
        out.add(node.asInt());
      }
    }
    return out;
  }

  /** Width of the time embedding: 4x the first block's width. */
  public int timeEmbedDim() {
    return blockOutChannels.get(0) * 4;
  }
}
