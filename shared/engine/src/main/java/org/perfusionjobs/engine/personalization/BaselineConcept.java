package org.perfusionjobs.engine.personalization;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What a baseline method learned, in one generic form that every baseline shares and the SD core
 * can apply through its hooks:
 *
 * <ul>
 *   <li>{@code embedding}: the input embedding of the concept word as one new token (textual
 *       inversion, custom diffusion), or null when the word is used as the base tokenizer splits it
 *       (LoRA and DreamBooth, whose papers use a rare identifier);
 *   <li>{@code tensors} named {@code lora_down.<linear path>} (r, in) and {@code lora_up.<linear
 *       path>} (out, r): a low-rank additive term {@code scale * x A' B'} of that UNet Linear;
 *   <li>{@code tensors} named {@code unet.<parameter key>}: a replaced UNet weight (custom
 *       diffusion's cross-attention K/V projections, DreamBooth's whole UNet).
 * </ul>
 */
public record BaselineConcept(
    String method,
    String placeholder,
    String superclass,
    String baseModelId,
    float[] embedding, // (D) or null
    Map<String, HostTensor> tensors,
    Map<String, String> trainingSettings) {
  public static final String LORA_DOWN = "lora_down.";
  public static final String LORA_UP = "lora_up.";
  public static final String UNET = "unet.";

  public BaselineConcept {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(placeholder, "placeholder");
    Objects.requireNonNull(superclass, "superclass");
    Objects.requireNonNull(baseModelId, "baseModelId");
    if (placeholder.isBlank() || placeholder.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException(
          "placeholder must be one word without spaces, got '" + placeholder + "'");
    }
    for (String name : tensors.keySet()) {
      if (name.startsWith(LORA_DOWN)) {
        String up = LORA_UP + name.substring(LORA_DOWN.length());
        if (!tensors.containsKey(up)) {
          throw new IllegalArgumentException("tensor " + name + " has no " + up);
        }
      } else if (name.startsWith(LORA_UP)) {
        if (!tensors.containsKey(LORA_DOWN + name.substring(LORA_UP.length()))) {
          throw new IllegalArgumentException("tensor " + name + " has no down projection");
        }
      } else if (!name.startsWith(UNET)) {
        throw new IllegalArgumentException(
            "unexpected tensor '" + name + "' in a " + method + " concept");
      }
    }
    tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    trainingSettings = Map.copyOf(trainingSettings);
  }

  /** Number of floats stored (4 bytes each in the file, plus a small header). */
  public long floatCount() {
    long n = embedding == null ? 0 : embedding.length;
    for (HostTensor t : tensors.values()) {
      n += t.data().length;
    }
    return n;
  }
}
