package org.perfusionjobs.engine.perfusion;

import java.util.Objects;

/**
 * A concept in one generation request, with this run's beta and tau (null: the concept's defaults).
 */
public record ConceptUse(Concept concept, Float beta, Float tau) {

  public ConceptUse {
    Objects.requireNonNull(concept, "concept");
    if (beta != null && !Float.isFinite(beta)) {
      throw new IllegalArgumentException("beta must be finite, got " + beta);
    }
    if (tau != null && !(tau > 0)) {
      throw new IllegalArgumentException("tau must be > 0, got " + tau);
    }
  }

  public static ConceptUse of(Concept concept) {
    return new ConceptUse(concept, null, null);
  }

  public float effectiveBeta() {
    return beta != null ? beta : concept.defaultBeta();
  }

  public float effectiveTau() {
    return tau != null ? tau : concept.defaultTau();
  }
}
