package org.perfusionjobs.engine.pipeline;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The text of one request as the text encoder sees it: {@code batchSize} copies of the prompt,
 * preceded by as many of the negative prompt when classifier-free guidance runs, and by as many of
 * the anchor prompt between them when guidance goes through one ({@link GenerateRequest}).
 */
public record PromptBatch(
    String prompt, String negativePrompt, String anchorPrompt, int batchSize, boolean guided) {

  /** No anchor prompt. */
  public PromptBatch(String prompt, String negativePrompt, int batchSize, boolean guided) {
    this(prompt, negativePrompt, "", batchSize, guided);
  }

  public PromptBatch {
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(negativePrompt, "negativePrompt");
    Objects.requireNonNull(anchorPrompt, "anchorPrompt");
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
    }
  }

  /** A single prompt row, no guidance. */
  public static PromptBatch single(String prompt) {
    return new PromptBatch(prompt, "", 1, false);
  }

  /** Whether an anchor row sits between the negative and the prompt rows. */
  public boolean anchored() {
    return guided && !anchorPrompt.isEmpty();
  }

  /**
   * [negative x B, prompt x B] with guidance (diffusers' order), [negative x B, anchor x B, prompt
   * x B] with an anchor, else [prompt x B].
   */
  public List<String> rows() {
    return rows(prompt);
  }

  /**
   * {@link #rows()} with {@code text} in place of the prompt (e.g. a superclass-substituted one).
   */
  public List<String> rows(String text) {
    List<String> out = new ArrayList<>();
    if (guided) {
      out.addAll(Collections.nCopies(batchSize, negativePrompt));
    }
    if (anchored()) {
      out.addAll(Collections.nCopies(batchSize, anchorPrompt));
    }
    out.addAll(Collections.nCopies(batchSize, text));
    return out;
  }
}
