package org.perfusionjobs.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/** train-request v1 (see schemas/train-request.v1.json for every field's meaning). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TrainRequestV1(
    String jobId,
    String tenant,
    String conceptName,
    String superclass,
    List<ImageRef> images,
    List<ImageRef> masks,
    Integer steps,
    String baseModel,
    Options options) {

  public TrainRequestV1 {
    images = List.copyOf(images);
    masks = masks != null ? List.copyOf(masks) : List.of();
    steps = steps != null ? steps : 400;
    options = options != null ? options : new Options(null, null, null, null, null, null);
  }

  /** Exactly one of the three is set (the schema's oneOf). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ImageRef(String base64, String blobId, String url) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Options(
      Integer batchSize,
      Integer gradientAccumulation,
      Double learningRateValue,
      Double learningRateEmbedding,
      Boolean randomFlip,
      Long seed) {
    public Options {
      batchSize = batchSize != null ? batchSize : 4;
      gradientAccumulation = gradientAccumulation != null ? gradientAccumulation : 4;
      learningRateValue = learningRateValue != null ? learningRateValue : 0.03;
      learningRateEmbedding = learningRateEmbedding != null ? learningRateEmbedding : 0.006;
      randomFlip = randomFlip == null || randomFlip;
      seed = seed != null ? seed : 0L;
    }
  }
}
