package org.perfusionjobs.worker;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.contracts.GenerateRequestV1;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.personalization.ConceptGuidance;

/**
 * A generation request's guidance through the superclass prompt (generate-request v4, {@code
 * conceptGuidance}): each concept's placeholder and superclass, and the scale. What the schema
 * cannot say (no concept to replace, guidance turned off) fails the job with the field named.
 */
final class GuidedRequests {
  private GuidedRequests() {}

  static ConceptGuidance guidance(GenerateRequestV1 r, List<ConceptUse> concepts)
      throws JobFailure {
    if (!r.conceptGuided()) {
      return ConceptGuidance.OFF;
    }
    if (concepts.isEmpty()) {
      throw new JobFailure(
          "/conceptGuidance",
          "needs concepts: it guides from each concept's superclass; add 'concepts' or drop it");
    }
    if (r.guidance() <= 1) {
      throw new JobFailure(
          "/conceptGuidance",
          "needs classifier-free guidance: set 'guidance' above 1 (e.g. 5) or drop it, got "
              + r.guidance());
    }
    Map<String, String> superclassOf = new LinkedHashMap<>();
    concepts.forEach(u -> superclassOf.put(u.concept().placeholder(), u.concept().superclass()));
    return new ConceptGuidance(superclassOf, r.conceptGuidance().floatValue());
  }
}
