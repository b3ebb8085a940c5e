package org.perfusionjobs.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * generate-request, versions 1 and 2 (v2 adds {@code concepts[].superclassLayout}; see
 * schemas/generate-request.v2.json for every field's meaning). The name keeps its first version's.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record GenerateRequestV1(
    String jobId,
    String tenant,
    String prompt,
    String negativePrompt,
    List<ConceptRef> concepts,
    Boolean globalLock,
    Integer steps,
    Double guidance,
    String sampler,
    Double eta,
    Long seed,
    Integer width,
    Integer height,
    Integer imageCount) {

  /** Applies the schema's defaults to absent fields. */
  public GenerateRequestV1 {
    negativePrompt = negativePrompt != null ? negativePrompt : "";
    concepts = concepts != null ? List.copyOf(concepts) : List.of();
    globalLock = globalLock != null && globalLock;
    steps = steps != null ? steps : 25;
    guidance = guidance != null ? guidance : 7.5;
    sampler = sampler != null ? sampler : "ddim";
    eta = eta != null ? eta : 0.0;
    seed = seed != null ? seed : 0L;
    width = width != null ? width : 0;
    height = height != null ? height : 0;
    imageCount = imageCount != null ? imageCount : 1;
  }

  /** A concept in a request, with optional run-time beta, tau and superclass layout (v2). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ConceptRef(String conceptId, Double beta, Double tau, Double superclassLayout) {}
}
