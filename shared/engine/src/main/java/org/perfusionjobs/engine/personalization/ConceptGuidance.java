package org.perfusionjobs.engine.personalization;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.perfusionjobs.engine.pipeline.RegionalConditioner.RegionPrompt;

/**
 * Guidance through the superclass prompt (beyond the paper; any personalization method): the
 * request's anchor is its prompt with each concept word replaced by the concept's superclass, so
 * guidance goes {@code guidanceScale} toward "a large star on a sand background" and {@code scale}
 * from there to "a large zwx on a sand background" ({@code GenerateRequest}'s anchor). A scale
 * below the guidance lets the layout the words ask for (one object, its size, its place) weigh more
 * than what only the concept word adds (its look); equal to the guidance it is plain guidance.
 *
 * @param superclassOf each concept word and its superclass
 * @param scale the guidance from the superclass prompt to the prompt; 0 with no words means off
 */
public record ConceptGuidance(Map<String, String> superclassOf, float scale) {
  /** Off: plain guidance. */
  public static final ConceptGuidance OFF = new ConceptGuidance(Map.of(), 0f);

  public ConceptGuidance {
    superclassOf = Map.copyOf(Objects.requireNonNull(superclassOf, "superclassOf"));
    if (!(scale >= 0 && scale <= 50)) {
      throw new IllegalArgumentException(
          "concept guidance must be in 0..50, got " + scale + "; give a scale such as 3");
    }
    superclassOf.forEach(
        (w, s) -> {
          if (w.isBlank() || s.isBlank()) {
            throw new IllegalArgumentException("concept guidance needs a word and a superclass");
          }
        });
  }

  /** Whether requests get an anchor. */
  public boolean on() {
    return !superclassOf.isEmpty();
  }

  /**
   * The regions, each with its own text's anchor when on (a box draws its own text, so its anchor
   * row must be that text's superclass version); unchanged when off.
   */
  public List<RegionPrompt> anchored(List<RegionPrompt> regions) {
    return on() ? regions.stream().map(r -> r.withAnchor(anchor(r.text()))).toList() : regions;
  }

  /**
   * {@code prompt} with every whole-word occurrence of a concept word replaced by its superclass.
   */
  public String anchor(String prompt) {
    String out = prompt;
    for (Map.Entry<String, String> e : superclassOf.entrySet()) {
      Pattern word = Pattern.compile("(?<![\\w])" + Pattern.quote(e.getKey()) + "(?![\\w])");
      out = word.matcher(out).replaceAll(Matcher.quoteReplacement(e.getValue()));
    }
    return out;
  }
}
