package org.perfusionjobs.engine.perfusion;

import java.util.Locale;

/**
 * When the trainers flip a training image horizontally (decision 47). A flip is an augmentation
 * only when the mirror image is a view of the concept: {@link #AUTO} flips when the masked objects
 * are mirror-symmetric ({@link TrainingImages#mirrorSymmetric}), so a two-tone or lettered object
 * is never taught its mirror image; {@link #ALWAYS} is for objects photographed from either side,
 * which are views of the concept turned round though their pixels are not symmetric; {@link #NEVER}
 * never flips.
 */
public enum Flip {
  AUTO("auto"),
  ALWAYS("always"),
  NEVER("never");

  private final String id;

  Flip(String id) {
    this.id = id;
  }

  public String id() {
    return id;
  }

  public static Flip parse(String text) {
    for (Flip f : values()) {
      if (f.id.equals(text.strip().toLowerCase(Locale.ROOT))) {
        return f;
      }
    }
    throw new IllegalArgumentException("flip '" + text + "': expected auto, always or never");
  }
}
