package org.perfusionjobs.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * generate-request, versions 1 to 4 (v2 adds {@code concepts[].superclassLayout}, v3 {@code
 * regions} and {@code confineConcepts}, v4 {@code conceptGuidance}; see
 * schemas/generate-request.v4.json for every field's meaning). The name keeps its first version's.
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
    Integer imageCount,
    List<RegionRef> regions,
    Boolean confineConcepts,
    Double conceptGuidance) {

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
    regions = regions != null ? List.copyOf(regions) : null;
  }

  /** The regions, none when absent (v1 and v2 requests). */
  public List<RegionRef> regionsOrNone() {
    return regions != null ? regions : List.of();
  }

  /** Whether concepts are confined to the regions (v3; false when absent). */
  public boolean confined() {
    return confineConcepts != null && confineConcepts;
  }

  /** Whether guidance goes through the superclass prompt (v4; off when absent). */
  public boolean conceptGuided() {
    return conceptGuidance != null;
  }

  /** A concept in a request, with optional run-time beta, tau and superclass layout (v2). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ConceptRef(String conceptId, Double beta, Double tau, Double superclassLayout) {}

  /** A box of the image (fractions of its width and height) and the prompt it draws (v3). */
  public record RegionRef(double left, double top, double right, double bottom, String prompt) {}
}
