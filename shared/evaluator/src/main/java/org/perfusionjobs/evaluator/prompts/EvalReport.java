package org.perfusionjobs.evaluator.prompts;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Totals over a prompt set: per attribute, confirmed / asked. {@code alignment} pools every
 * attribute except {@link Attribute#CONCEPT} (what the words besides the concept asked for).
 */
public record EvalReport(int prompts, Map<Attribute, int[]> counts) {
  public EvalReport {
    Map<Attribute, int[]> copy = new EnumMap<>(Attribute.class);
    counts.forEach((a, c) -> copy.put(a, c.clone()));
    counts = copy;
  }

  public static EvalReport of(List<PromptScore> scores) {
    Map<Attribute, int[]> total = new EnumMap<>(Attribute.class);
    scores.forEach(s -> s.addTo(total));
    return new EvalReport(scores.size(), total);
  }

  /** Confirmed share of attribute {@code a}, NaN if no prompt asked for it. */
  public double rate(Attribute a) {
    int[] c = counts.get(a);
    return c == null || c[1] == 0 ? Double.NaN : c[0] / (double) c[1];
  }

  /** Confirmed share over every asked check except the concept itself. */
  public double alignment() {
    int hit = 0;
    int asked = 0;
    for (Map.Entry<Attribute, int[]> e : counts.entrySet()) {
      if (e.getKey() != Attribute.CONCEPT) {
        hit += e.getValue()[0];
        asked += e.getValue()[1];
      }
    }
    return asked == 0 ? Double.NaN : hit / (double) asked;
  }

  /** attribute -> {"rate", "confirmed", "asked"}, for JSON reports. */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("prompts", prompts);
    counts.forEach(
        (a, c) -> m.put(a.label(), Map.of("rate", rate(a), "confirmed", c[0], "asked", c[1])));
    if (counts.keySet().stream().anyMatch(a -> a != Attribute.CONCEPT)) {
      m.put("alignment", alignment());
    }
    return m;
  }

  /** One line: "shape 93.0% (186/200), colour ...". */
  public String summary() {
    StringBuilder sb = new StringBuilder();
    counts.forEach(
        (a, c) ->
            sb.append(a.label())
                .append(String.format(" %.1f%% (%d/%d), ", 100.0 * c[0] / c[1], c[0], c[1])));
    if (counts.keySet().stream().anyMatch(a -> a != Attribute.CONCEPT)) {
      sb.append(String.format("alignment %.1f%%", 100 * alignment()));
      return sb.toString();
    }
    return sb.substring(0, Math.max(0, sb.length() - 2));
  }
}
