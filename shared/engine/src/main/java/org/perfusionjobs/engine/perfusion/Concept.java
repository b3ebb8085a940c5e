package org.perfusionjobs.engine.perfusion;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A learned concept (method page, section 7): per cross-attention layer a locked K target and a
 * learned V target, the target input {@code i*}, the learned word embedding, and what is needed to
 * use it again: the placeholder word (added to the tokenizer as one new token), the superclass, the
 * base model and the hash of the Cinv it was trained against. Host arrays: a concept is ~100 KB.
 *
 * <p>Layer keys are the cross-attention module paths, e.g. {@code
 * up_blocks.1.attentions.2.transformer_blocks.0.attn2}.
 */
public record Concept(
    String placeholder,
    String superclass,
    String baseModelId,
    String cinvHash,
    float defaultBeta,
    float defaultTau,
    float[] iStar, // (D)
    float[] embedding, // (D)
    Map<String, float[]> keyTargets, // path -> (C)
    Map<String, float[]> valueTargets, // path -> (C)
    Map<String, String> trainingSettings) {

  public Concept {
    Objects.requireNonNull(placeholder, "placeholder");
    Objects.requireNonNull(superclass, "superclass");
    if (placeholder.isBlank() || placeholder.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException(
          "placeholder must be one word without spaces, got '" + placeholder + "'");
    }
    if (superclass.isBlank()) {
      throw new IllegalArgumentException("superclass must not be empty");
    }
    if (iStar.length != embedding.length) {
      throw new IllegalArgumentException(
          "i* has width " + iStar.length + " but the embedding " + embedding.length);
    }
    if (!keyTargets.keySet().equals(valueTargets.keySet())) {
      throw new IllegalArgumentException("K and V targets cover different layers");
    }
    for (String path : keyTargets.keySet()) {
      if (keyTargets.get(path).length != valueTargets.get(path).length) {
        throw new IllegalArgumentException(
            "layer "
                + path
                + ": K target width "
                + keyTargets.get(path).length
                + " differs from V target width "
                + valueTargets.get(path).length);
      }
    }
    if (!(defaultTau > 0)) {
      throw new IllegalArgumentException("default tau must be > 0, got " + defaultTau);
    }
    keyTargets = Collections.unmodifiableMap(new LinkedHashMap<>(keyTargets));
    valueTargets = Collections.unmodifiableMap(new LinkedHashMap<>(valueTargets));
    trainingSettings = Map.copyOf(trainingSettings);
    PerfusionAblation.of(trainingSettings); // an unknown ablation fails here, not at generation
  }

  /**
   * The part of Perfusion this concept was trained without ({@link PerfusionAblation#NONE}: none).
   */
  public PerfusionAblation ablation() {
    return PerfusionAblation.of(trainingSettings);
  }

  /** This concept with one more (or a replaced) training setting, e.g. {@code gate_scope}. */
  public Concept withTrainingSetting(String key, String value) {
    Map<String, String> s = new LinkedHashMap<>(trainingSettings);
    s.put(key, value);
    return new Concept(
        placeholder,
        superclass,
        baseModelId,
        cinvHash,
        defaultBeta,
        defaultTau,
        iStar,
        embedding,
        keyTargets,
        valueTargets,
        s);
  }

  /** Number of floats stored (the file is 4 bytes each plus a small header). */
  public long floatCount() {
    long n = iStar.length + embedding.length;
    for (float[] k : keyTargets.values()) {
      n += 2L * k.length;
    }
    return n;
  }
}
