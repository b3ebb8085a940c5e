package org.perfusionjobs.engine.vae;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** {@code vae/config.json} of a diffusers AutoencoderKL, validated with messages naming values. */
public record AutoencoderKLConfig(
    int inChannels,
    int outChannels,
    List<String> downBlockTypes,
    List<String> upBlockTypes,
    List<Integer> blockOutChannels,
    int layersPerBlock,
    String actFn,
    int latentChannels,
    int normNumGroups,
    int sampleSize,
    float scalingFactor) {

  public AutoencoderKLConfig {
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
      if (!t.equals("DownEncoderBlock2D")) {
        throw new IllegalArgumentException(
            "down block type '" + t + "' is not supported (DownEncoderBlock2D)");
      }
    }
    for (String t : upBlockTypes) {
      if (!t.equals("UpDecoderBlock2D")) {
        throw new IllegalArgumentException(
            "up block type '" + t + "' is not supported (UpDecoderBlock2D)");
      }
    }
    for (int i = 0; i < n; i++) {
      if (blockOutChannels.get(i) % normNumGroups != 0) {
        throw new IllegalArgumentException(
            "block_out_channels["
                + i
                + "] = "
                + blockOutChannels.get(i)
                + " is not divisible by norm_num_groups "
                + normNumGroups);
      }
    }
    if (!"silu".equals(actFn) && !"swish".equals(actFn)) {
      throw new IllegalArgumentException("act_fn '" + actFn + "' is not supported (silu)");
    }
    if (!(scalingFactor > 0)) {
      throw new IllegalArgumentException("scaling_factor must be > 0, got " + scalingFactor);
    }
    if (layersPerBlock < 1 || latentChannels < 1) {
      throw new IllegalArgumentException(
          "layers_per_block "
              + layersPerBlock
              + " and latent_channels "
              + latentChannels
              + " must be >= 1");
    }
    downBlockTypes = List.copyOf(downBlockTypes);
    upBlockTypes = List.copyOf(upBlockTypes);
    blockOutChannels = List.copyOf(blockOutChannels);
  }

  @JsonCreator
  static AutoencoderKLConfig fromJson(
      @JsonProperty("in_channels") Integer inChannels,
      @JsonProperty("out_channels") Integer outChannels,
      @JsonProperty("down_block_types") List<String> downBlockTypes,
      @JsonProperty("up_block_types") List<String> upBlockTypes,
      @JsonProperty("block_out_channels") List<Integer> blockOutChannels,
      @JsonProperty("layers_per_block") Integer layersPerBlock,
      @JsonProperty("act_fn") String actFn,
      @JsonProperty("latent_channels") Integer latentChannels,
      @JsonProperty("norm_num_groups") Integer normNumGroups,
      @JsonProperty("sample_size") Integer sampleSize,
      @JsonProperty("scaling_factor") Float scalingFactor) {
    List<Integer> ch = blockOutChannels != null ? blockOutChannels : List.of(64);
    return new AutoencoderKLConfig(
        inChannels != null ? inChannels : 3,
        outChannels != null ? outChannels : 3,
        downBlockTypes != null ? downBlockTypes : List.of("DownEncoderBlock2D"),
        upBlockTypes != null ? upBlockTypes : List.of("UpDecoderBlock2D"),
        ch,
        layersPerBlock != null ? layersPerBlock : 1,
        actFn != null ? actFn : "silu",
        latentChannels != null ? latentChannels : 4,
        normNumGroups != null ? normNumGroups : 32,
        sampleSize != null ? sampleSize : 32,
        scalingFactor != null ? scalingFactor : 0.18215f);
  }

  /** Pixels per latent cell along each axis: 2^(number of blocks - 1), 8 for SD. */
  public int spatialFactor() {
    return 1 << (blockOutChannels.size() - 1);
  }
}
