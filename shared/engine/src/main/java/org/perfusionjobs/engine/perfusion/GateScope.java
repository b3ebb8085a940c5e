package org.perfusionjobs.engine.perfusion;

import java.util.List;
import java.util.Locale;

/**
 * Which tokens a concept's gate may open on. {@link #ALL} is the method's: every token encoding is
 * gated by its similarity to {@code i*} (the concept's word, the words after it, the padding). The
 * others go beyond the paper (docs/perfusion.md, "Gate scopes"): {@link #WORD} forces the gate to 0
 * on every token but the concept word's own; {@link #SEGMENT} on every token before the concept's
 * word and from the next concept's word on, so that in "a zwx on the left and a vkp on the right"
 * the causal text encoder's echo of zwx in "vkp on the right" cannot open zwx's gate there. With
 * one concept in the prompt {@link #SEGMENT} differs from {@link #ALL} only before the word, where
 * the gate is near 0 anyway. A concept file records its scope as the training setting {@value
 * #KEY}; files without one are {@link #ALL}.
 */
public enum GateScope {
  ALL("all"),
  WORD("word"),
  SEGMENT("segment");

  /** The concept file's setting ({@code train.gate_scope} in its metadata). */
  public static final String KEY = "gate_scope";

  /** What {@code train} records when not told otherwise. */
  public static final GateScope DEFAULT = ALL;

  private final String id;

  GateScope(String id) {
    this.id = id;
  }

  public String id() {
    return id;
  }

  public static GateScope parse(String text) {
    for (GateScope s : values()) {
      if (s.id.equals(text.strip().toLowerCase(Locale.ROOT))) {
        return s;
      }
    }
    throw new IllegalArgumentException("gate scope '" + text + "': expected all, word or segment");
  }

  /** The scope a concept was made for: its setting, else {@link #ALL} (the paper's). */
  public static GateScope of(Concept c) {
    String s = c.trainingSettings().get(KEY);
    return s == null ? ALL : parse(s);
  }

  /** {@code c} recorded with this scope. */
  public Concept apply(Concept c) {
    return c.withTrainingSetting(KEY, id);
  }

  /**
   * The gate masks of a batch of token rows, (rows, tokens, concepts) flattened: 1 where concept
   * j's gate may open, 0 where its scope shuts it.
   *
   * @param ids token ids, {@code rows * tokens}, row-major
   * @param tokenIds each concept's added token id
   * @param scopes each concept's scope
   */
  static float[] mask(long[] ids, int rows, int tokens, long[] tokenIds, List<GateScope> scopes) {
    int n = tokenIds.length;
    float[] mask = new float[rows * tokens * n];
    for (int r = 0; r < rows; r++) {
      int current = -1; // the concept whose word came last in this row
      for (int i = 0; i < tokens; i++) {
        long id = ids[r * tokens + i];
        for (int j = 0; j < n; j++) {
          if (id == tokenIds[j]) {
            current = j;
          }
        }
        for (int j = 0; j < n; j++) {
          boolean open =
              switch (scopes.get(j)) {
                case ALL -> true;
                case WORD -> id == tokenIds[j];
                case SEGMENT -> current == j;
              };
          mask[(r * tokens + i) * n + j] = open ? 1f : 0f;
        }
      }
    }
    return mask;
  }
}
