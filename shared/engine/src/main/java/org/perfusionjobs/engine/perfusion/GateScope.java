package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Locale;

/**
 * Which tokens a concept's gate may open on. {@link #ALL} is the method's: every token encoding is
 * gated by its similarity to {@code i*} (the concept's word, the words after it, the padding).
 * {@link #WORD} goes beyond the paper (docs/perfusion.md, "Gates confined to the concept's word"):
 * the gate is forced to 0 on every token but the concept word's own, in training and at generation,
 * so the edit cannot leak to its neighbours. A concept file records its scope as the training
 * setting {@value #KEY}; files without one are {@link #ALL}.
 */
public enum GateScope {
  ALL("all"),
  WORD("word");

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
    throw new IllegalArgumentException("gate scope '" + text + "': expected all or word");
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
   * The gate masks of a batch of token ids (B, T): (B, T, N), 1 where concept j's gate may open, 0
   * where its scope shuts it; for the trainer (one concept) and the conditioner (N) alike.
   */
  static NDArray mask(NDArray ids, long[] tokenIds, List<GateScope> scopes, NDManager m) {
    int b = (int) ids.getShape().get(0);
    int t = (int) ids.getShape().get(1);
    float[] mask = mask(ids.toLongArray(), b, t, tokenIds, scopes);
    return m.create(mask, new Shape(b, t, tokenIds.length));
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
    for (int i = 0; i < rows * tokens; i++) {
      for (int j = 0; j < n; j++) {
        boolean open = scopes.get(j) == ALL || ids[i] == tokenIds[j];
        mask[i * n + j] = open ? 1f : 0f;
      }
    }
    return mask;
  }
}
