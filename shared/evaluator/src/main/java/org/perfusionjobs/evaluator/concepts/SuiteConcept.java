package org.perfusionjobs.evaluator.concepts;

import java.util.Objects;

/**
 * One concept of the suite: the new word that names it in prompts, the ordinary word it is a kind
 * of (Perfusion's key-locking target) and what it looks like.
 */
public record SuiteConcept(String word, String superclass, ConceptSpec spec) {
  public SuiteConcept {
    Objects.requireNonNull(spec, "spec");
    if (word == null || !word.matches("[a-z]+")) {
      throw new IllegalArgumentException("word: lower-case letters only, not '" + word + "'");
    }
    if (superclass == null || superclass.isBlank()) {
      throw new IllegalArgumentException("superclass: missing for concept '" + word + "'");
    }
  }
}
