package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * How a prompt naming two concepts is encoded. {@link #JOINT} is the method's: one pass of the
 * causal text encoder, so every token after the first concept's word has seen it, the second
 * concept's word and the padding included, and the first concept's gate opens there too (the leak
 * measured in docs/perfusion-results.md, "Two concepts in one prompt"). {@link #APART} goes beyond
 * the paper: the phrase of the second concept (from the joiner before its word, "and" or ",", to
 * the end, padding included) is encoded in a pass of its own, from a fresh start token, and spliced
 * in at its place, so that no token of it has seen the first concept. A concept file records the
 * setting as {@value #KEY}; generation encodes apart when any of its concepts asks to.
 */
public enum PhraseEncoding {
  JOINT("joint"),
  APART("apart");

  /** The concept file's setting ({@code train.phrase_encoding} in its metadata). */
  public static final String KEY = "phrase_encoding";

  /** Words that end the first concept's phrase. */
  static final List<String> JOINERS = List.of("and", ",");

  private final String id;

  PhraseEncoding(String id) {
    this.id = id;
  }

  public String id() {
    return id;
  }

  public static PhraseEncoding parse(String text) {
    for (PhraseEncoding e : values()) {
      if (e.id.equals(text.strip().toLowerCase(Locale.ROOT))) {
        return e;
      }
    }
    throw new IllegalArgumentException("phrase encoding '" + text + "': expected joint or apart");
  }

  /** The encoding a concept was made for: its setting, else {@link #JOINT} (the paper's). */
  public static PhraseEncoding of(Concept c) {
    String s = c.trainingSettings().get(KEY);
    return s == null ? JOINT : parse(s);
  }

  /** {@code c} recorded with this encoding. */
  public Concept apply(Concept c) {
    return c.withTrainingSetting(KEY, id);
  }

  /**
   * Where the second concept's phrase starts in one row of ids: just after the last joiner before
   * the second concept token, or at that token when no joiner precedes it; -1 when the row holds
   * fewer than two concept tokens.
   */
  static int split(long[] ids, long[] conceptIds, long[] joinerIds) {
    int seen = 0;
    for (int i = 0; i < ids.length; i++) {
      if (contains(conceptIds, ids[i]) && ++seen == 2) {
        for (int j = i - 1; j > 0; j--) {
          if (contains(joinerIds, ids[j])) {
            return j + 1;
          }
          if (contains(conceptIds, ids[j])) {
            break; // no joiner after the first concept: the phrase is the word itself
          }
        }
        return i;
      }
    }
    return -1;
  }

  /**
   * The ids of the phrase from {@code start} on as encoded alone: start token, the rest, padding.
   */
  static long[] phrase(long[] ids, int start, long bos, long pad) {
    long[] out = new long[ids.length];
    Arrays.fill(out, pad);
    out[0] = bos;
    System.arraycopy(ids, start, out, 1, ids.length - start);
    return out;
  }

  /**
   * The encodings (B, T, D) of the rows {@code ids} (B, T) with each row's second phrase encoded
   * apart: positions before the split keep {@code joint}'s encodings, positions from it on take the
   * phrase's own (its start token dropped). Rows with fewer than two concepts are unchanged; a row
   * equal to the one before it (a batch repeats its prompt) reuses that row's result.
   *
   * @param encode the text encoder on (1, T) ids
   */
  static NDArray splice(
      NDArray joint,
      NDArray ids,
      long[] conceptIds,
      long[] joinerIds,
      long bos,
      long pad,
      Function<NDArray, NDArray> encode,
      NDManager m) {
    int b = (int) ids.getShape().get(0);
    int t = (int) ids.getShape().get(1);
    long[] flat = ids.toLongArray();
    NDList rows = new NDList();
    boolean changed = false;
    long[] previous = null;
    for (int r = 0; r < b; r++) {
      long[] row = Arrays.copyOfRange(flat, r * t, (r + 1) * t);
      if (Arrays.equals(row, previous)) {
        rows.add(rows.get(r - 1));
        continue;
      }
      previous = row;
      int s = split(row, conceptIds, joinerIds);
      NDArray out = joint.get(new NDIndex("{}:{}", r, r + 1));
      if (s > 0) {
        NDArray alone = encode.apply(m.create(phrase(row, s, bos, pad), new Shape(1, t)));
        out =
            out.get(new NDIndex(":, :{}", s))
                .concat(alone.get(new NDIndex(":, 1:{}", t - s + 1)), 1);
        changed = true;
      }
      rows.add(out);
    }
    return changed ? NDArrays.concat(rows, 0) : joint;
  }

  private static boolean contains(long[] xs, long x) {
    for (long v : xs) {
      if (v == x) {
        return true;
      }
    }
    return false;
  }
}
