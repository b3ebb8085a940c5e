package org.perfusionjobs.engine.pipeline;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The text of one request as the text encoder sees it: {@code batchSize} copies of the prompt,
 * preceded by as many of the negative prompt when classifier-free guidance runs.
 */
public record PromptBatch(String prompt, String negativePrompt, int batchSize, boolean guided) {

  public PromptBatch {
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(negativePrompt, "negativePrompt");
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
    }
  }

  /** A single prompt row, no guidance. */
  public static PromptBatch single(String prompt) {
    return new PromptBatch(prompt, "", 1, false);
  }

  /** [negative x B, prompt x B] with guidance (diffusers' order), else [prompt x B]. */
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
    out.addAll(Collections.nCopies(batchSize, text));
    return out;
  }
}
