package org.perfusionjobs.engine.perfusion;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * Which part of Perfusion a concept runs without (issue 18, item 6; docs/perfusion.md#ablations).
 * {@link #NONE} is the paper's method. The choice is made at training and recorded in the concept
 * file's metadata ({@code train.ablation}; absent means {@code none}), so generation and evaluation
 * apply the same one when they load the file.
 *
 * <ul>
 *   <li>{@link #NO_KEY_LOCK}: the K targets are learned like the V targets (same start, W_k
 *       i_super, same learning rate) instead of staying locked to the superclass.
 *   <li>{@link #NO_GATE}: the gate is 1 on every token, {@code h(e) = W (e - P(e)) + o*}, instead
 *       of {@code sigmoid((s(e) - beta) / tau)}.
 *   <li>{@link #NO_CINV}: the identity in place of Cinv, {@code s(e) = e' i* / i*' i*} and P the
 *       Euclidean projection onto i*.
 * </ul>
 */
public enum PerfusionAblation {
  NONE("none"),
  NO_KEY_LOCK("no-key-lock"),
  NO_GATE("no-gate"),
  NO_CINV("no-cinv");

  /** The key of the choice in {@link Concept#trainingSettings()}. */
  public static final String SETTING = "ablation";

  private final String word;

  PerfusionAblation(String word) {
    this.word = word;
  }

  /** The name on the command line and in the concept file, e.g. {@code no-key-lock}. */
  public String word() {
    return word;
  }

  /** For reports: e.g. {@code no key-lock}. */
  public String label() {
    return switch (this) {
      case NONE -> "paper";
      case NO_KEY_LOCK -> "no key-lock";
      case NO_GATE -> "no gate";
      case NO_CINV -> "no Cinv";
    };
  }

  /** The ablation named {@code word} (any case). */
  public static PerfusionAblation parse(String word) {
    for (PerfusionAblation a : values()) {
      if (a.word.equals(word.toLowerCase(Locale.ROOT))) {
        return a;
      }
    }
    throw new IllegalArgumentException(
        "unknown Perfusion ablation '"
            + word
            + "'; known: "
            + String.join(", ", Arrays.stream(values()).map(PerfusionAblation::word).toList()));
  }

  /** The ablation a concept's training settings record; {@link #NONE} when they record none. */
  public static PerfusionAblation of(Map<String, String> trainingSettings) {
    String w = trainingSettings.get(SETTING);
    return w == null ? NONE : parse(w);
  }
}
