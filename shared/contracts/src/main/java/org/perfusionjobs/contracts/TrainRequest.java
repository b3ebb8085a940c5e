package org.perfusionjobs.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * train-request, versions 1 to 4 (schemas/train-request.v1.json to .v4.json say what each field
 * means); version 1 has no captions and none of the beyond-the-paper options, which then take their
 * defaults, the option flip exists from version 3 on and keyRate from version 4.
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
    options = options != null ? options : Options.defaults();
  }

  /** Exactly one of the three is set (the schema's oneOf). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ImageRef(String base64, String blobId, String url) {}

  /**
   * Training settings; embeddingNormCap and backgroundWeight exist from version 2 on, flip from
   * version 3 (absent, it stays null so that the record is still written in the lowest version),
   * keyRate from version 4 (0, the paper's locked key, is dropped when written).
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Options(
      Integer batchSize,
      Integer gradientAccumulation,
      Double learningRateValue,
      Double learningRateEmbedding,
      Boolean randomFlip,
      Long seed,
      Double embeddingNormCap,
      Double backgroundWeight,
      String flip,
      Double keyRate) {
    public Options {
      batchSize = batchSize != null ? batchSize : 4;
      gradientAccumulation = gradientAccumulation != null ? gradientAccumulation : 4;
      learningRateValue = learningRateValue != null ? learningRateValue : 0.03;
      learningRateEmbedding = learningRateEmbedding != null ? learningRateEmbedding : 0.006;
      randomFlip = randomFlip == null || randomFlip;
      seed = seed != null ? seed : 0L;
      embeddingNormCap = embeddingNormCap != null ? embeddingNormCap : 0.0;
      backgroundWeight = backgroundWeight != null ? backgroundWeight : 0.0;
      keyRate = keyRate != null ? keyRate : 0.0;
    }

    /** Every setting at its default. */
    public static Options defaults() {
      return new Options(null, null, null, null, null, null, null, null, null, null);
    }

    /**
     * When to flip a training image: {@code flip} if given, else randomFlip's ({@code true}: auto,
     * flips only for a mirror-symmetric concept; {@code false}: never).
     *
     * @throws IllegalArgumentException for flip auto or always with randomFlip false
     */
    public String flipMode() {
      if (flip == null) {
        return randomFlip ? "auto" : "never";
      }
      if (!randomFlip && !flip.equals("never")) {
        throw new IllegalArgumentException(
            "flip '" + flip + "' conflicts with randomFlip false; give only flip");
      }
      return flip;
    }
  }
}
