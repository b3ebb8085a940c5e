package org.perfusionjobs.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * train-request, versions 1 and 2 (schemas/train-request.v1.json and .v2.json say what each field
 * means); version 1 has no captions and none of the two beyond-the-paper options, which then take
 * their defaults.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TrainRequest(
    String jobId,
    String tenant,
    String conceptName,
    String superclass,
    List<ImageRef> images,
    List<ImageRef> masks,
    List<String> captions,
    Integer steps,
    String baseModel,
    Options options) {

  public TrainRequest {
    images = List.copyOf(images);
    masks = masks != null ? List.copyOf(masks) : List.of();
    captions = captions != null ? List.copyOf(captions) : List.of();
    steps = steps != null ? steps : 400;
    options =
        options != null ? options : new Options(null, null, null, null, null, null, null, null);
  }

  /** Exactly one of the three is set (the schema's oneOf). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ImageRef(String base64, String blobId, String url) {}

  /** Training settings; the last two exist from version 2 on. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Options(
      Integer batchSize,
      Integer gradientAccumulation,
      Double learningRateValue,
      Double learningRateEmbedding,
      Boolean randomFlip,
      Long seed,
      Double embeddingNormCap,
      Double backgroundWeight) {
    public Options {
      batchSize = batchSize != null ? batchSize : 4;
      gradientAccumulation = gradientAccumulation != null ? gradientAccumulation : 4;
      learningRateValue = learningRateValue != null ? learningRateValue : 0.03;
      learningRateEmbedding = learningRateEmbedding != null ? learningRateEmbedding : 0.006;
      randomFlip = randomFlip == null || randomFlip;
      seed = seed != null ? seed : 0L;
      embeddingNormCap = embeddingNormCap != null ? embeddingNormCap : 0.0;
      backgroundWeight = backgroundWeight != null ? backgroundWeight : 0.0;
    }
  }
}
