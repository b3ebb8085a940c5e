package org.perfusionjobs.evaluator.prompts;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.evaluator.ScenePrediction;

/**
 * The four figures of a concept run (issue 18), each a share in [0, 1], null when no prompt asks
 * for it:
 *
 * <ul>
 *   <li>fidelity: per concept a prompt names, an object with the concept's shape, colour and
 *       pattern is found anywhere in the image;
 *   <li>exact count: the image holds as many objects as the prompt names;
 *   <li>alignment: every other asked check (position, size, background, an ordinary object's shape,
 *       colour and position) confirmed, pooled ({@link EvalReport#alignment});
 *   <li>composition: over prompts naming two objects of which at least one is a concept (a concept
 *       and an ordinary object, or two concepts), both objects with every check right; in a run
 *       that names no concept at all, over its two-object prompts (the base model's own score on
 *       the same placements: the ceiling a concept pair is measured against).
 * </ul>
 */
public record ConceptMetrics(
    int images, Double fidelity, Double exactCount, Double alignment, Double composition) {
  public static ConceptMetrics of(
      List<EvalPrompt> prompts, List<ScenePrediction> found, List<PromptScore> scores) {
    if (prompts.size() != found.size() || prompts.size() != scores.size()) {
      throw new IllegalArgumentException(
          "prompts ("
              + prompts.size()
              + "), found scenes ("
              + found.size()
              + ") and scores ("
              + scores.size()
              + ") differ in number");
    }
    int[] fidelity = new int[2];
    int[] count = new int[2];
    int[] composition = new int[2];
    int[] twoObjects = new int[2]; // every two-object prompt, for a run without concepts
    boolean anyConcept = false;
    for (int i = 0; i < prompts.size(); i++) {
      EvalPrompt p = prompts.get(i);
      ScenePrediction f = found.get(i);
      count[0] += f.count() == p.objects().size() ? 1 : 0;
      count[1]++;
      for (EvalPrompt.Asked a : p.objects()) {
        if (a.attributes().contains(Attribute.CONCEPT)) {
          fidelity[0] += f.objects().stream().anyMatch(a.concept()::matches) ? 1 : 0;
          fidelity[1]++;
        }
      }
      anyConcept |= p.concept();
      if (p.objects().size() == 2) {
        int right = scores.get(i).objectsRight().stream().allMatch(b -> b) ? 1 : 0;
        twoObjects[0] += right;
        twoObjects[1]++;
        if (p.concept()) {
          composition[0] += right;
          composition[1]++;
        }
      }
    }
    double align = EvalReport.of(scores).alignment();
    return new ConceptMetrics(
        prompts.size(),
        share(fidelity),
        share(count),
        Double.isNaN(align) ? null : align,
        share(anyConcept ? composition : twoObjects));
  }

  private static Double share(int[] c) {
    return c[1] == 0 ? null : c[0] / (double) c[1];
  }

  /**
   * {"images": n, "fidelity": f, "exactCount": c, "alignment": a, "composition": p}, nulls kept.
   */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("images", images);
    m.put("fidelity", fidelity);
    m.put("exactCount", exactCount);
    m.put("alignment", alignment);
    m.put("composition", composition);
    return m;
  }

  /**
   * One line: "fidelity 69.0%, exact count 61.0%, alignment 59.0%, composition 20.0% (n images)".
   */
  public String summary() {
    return "fidelity "
        + pct(fidelity)
        + ", exact count "
        + pct(exactCount)
        + ", alignment "
        + pct(alignment)
        + ", composition "
        + pct(composition)
        + " ("
        + images
        + " images)";
  }

  private static String pct(Double v) {
    return v == null ? "-" : String.format("%.1f%%", 100 * v);
  }
}
