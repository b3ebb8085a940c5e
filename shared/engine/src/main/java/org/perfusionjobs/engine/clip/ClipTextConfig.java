package org.perfusionjobs.engine.clip;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Set;

/**
 * {@code text_encoder/config.json} of a transformers CLIPTextModel, validated with messages naming
 * values.
 */
public record ClipTextConfig(
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int numHiddenLayers,
    int numAttentionHeads,
    int maxPositionEmbeddings,
    String hiddenAct,
    float layerNormEps) {

  static final Set<String> ACTIVATIONS = Set.of("quick_gelu", "gelu");

  public ClipTextConfig {
    if (hiddenSize % numAttentionHeads != 0) {
      throw new IllegalArgumentException(
          "hidden_size "
              + hiddenSize
              + " is not divisible by num_attention_heads "
              + numAttentionHeads);
    }
    if (!ACTIVATIONS.contains(hiddenAct)) {
      throw new IllegalArgumentException(
          "hidden_act '" + hiddenAct + "' is not supported " + ACTIVATIONS);
    }
    if (vocabSize < 1 || numHiddenLayers < 1 || maxPositionEmbeddings < 1 || intermediateSize < 1) {
      throw new IllegalArgumentException(
          "vocab_size "
              + vocabSize
              + ", num_hidden_layers "
              + numHiddenLayers
              + ", intermediate_size "
              + intermediateSize
              + " and max_position_embeddings "
              + maxPositionEmbeddings
              + " must be >= 1");
    }
  }

  @JsonCreator
  static ClipTextConfig fromJson(
      @JsonProperty("vocab_size") Integer vocabSize,
      @JsonProperty("hidden_size") Integer hiddenSize,
      @JsonProperty("intermediate_size") Integer intermediateSize,
      @JsonProperty("num_hidden_layers") Integer numHiddenLayers,
      @JsonProperty("num_attention_heads") Integer numAttentionHeads,
      @JsonProperty("max_position_embeddings") Integer maxPositionEmbeddings,
      @JsonProperty("hidden_act") String hiddenAct,
      @JsonProperty("layer_norm_eps") Float layerNormEps) {
    return new ClipTextConfig(
        vocabSize != null ? vocabSize : 49408,
        hiddenSize != null ? hiddenSize : 512,
        intermediateSize != null ? intermediateSize : 2048,
        numHiddenLayers != null ? numHiddenLayers : 12,
        numAttentionHeads != null ? numAttentionHeads : 8,
        maxPositionEmbeddings != null ? maxPositionEmbeddings : 77,
        hiddenAct != null ? hiddenAct : "quick_gelu",
        layerNormEps != null ? layerNormEps : 1e-5f);
  }

  public int headDim() {
    return hiddenSize / numAttentionHeads;
  }
}
