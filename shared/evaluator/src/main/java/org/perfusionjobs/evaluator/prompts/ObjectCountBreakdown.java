package org.perfusionjobs.evaluator.prompts;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.evaluator.ObjectPrediction;
import org.perfusionjobs.evaluator.ScenePrediction;

/**
 * Each attribute's score split between one-object and two-object prompts, and how often a
 * two-object prompt that asks for two different colours gets an image whose objects all share one
 * colour: the attribute-binding failure (one colour word painting both objects) that a plain rate
 * hides among other colour errors.
 *
 * @param one {right, asked} per attribute over the one-object prompts
 * @param two {right, asked} per attribute over the two-object prompts
 * @param merged {images whose two or more found objects all share one colour, prompts asking two
 *     different colours}
 */
public record ObjectCountBreakdown(
    Map<Attribute, int[]> one, Map<Attribute, int[]> two, int[] merged) {
  public ObjectCountBreakdown {
    one = Map.copyOf(one);
    two = Map.copyOf(two);
    merged = merged.clone();
  }

  public static ObjectCountBreakdown of(
      List<EvalPrompt> prompts, List<ScenePrediction> found, List<PromptScore> scores) {
    if (prompts.size() != scores.size() || prompts.size() != found.size()) {
      throw new IllegalArgumentException(
          "prompts ("
              + prompts.size()
              + "), found scenes ("
              + found.size()
              + ") and scores ("
              + scores.size()
              + ") differ in number");
    }
    Map<Attribute, int[]> one = new EnumMap<>(Attribute.class);
    Map<Attribute, int[]> two = new EnumMap<>(Attribute.class);
    int[] merged = new int[2];
    for (int i = 0; i < prompts.size(); i++) {
      EvalPrompt p = prompts.get(i);
      scores.get(i).addTo(p.objects().size() == 1 ? one : two);
      if (asksTwoColours(p)) {
        merged[1]++;
        List<ObjectPrediction> objs = found.get(i).objects();
        if (objs.size() >= 2
            && objs.stream().map(ObjectPrediction::colour).distinct().count() == 1) {
          merged[0]++;
        }
      }
    }
    return new ObjectCountBreakdown(one, two, merged);
  }

  private static boolean asksTwoColours(EvalPrompt p) {
    return p.objects().size() == 2
        && p.objects().stream().allMatch(a -> a.attributes().contains(Attribute.COLOUR))
        && p.objects().get(0).object().colour() != p.objects().get(1).object().colour();
  }

  /**
   * For report.json: {"one_object": {attribute: "right/asked"}, "two_objects": {...},
   * "colours_merged": "images/prompts"}.
   */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("one_object", labels(one));
    m.put("two_objects", labels(two));
    m.put("colours_merged", merged[0] + "/" + merged[1]);
    return m;
  }

  /**
   * Two lines, e.g. "one object: shape 84/141 (59.6%), ..." and "two objects: ...; one colour for
   * both where two were asked: 19/55".
   */
  public String summary() {
    return "one object: "
        + line(one)
        + System.lineSeparator()
        + "two objects: "
        + line(two)
        + "; one colour for both where two were asked: "
        + merged[0]
        + "/"
        + merged[1];
  }

  private static Map<String, String> labels(Map<Attribute, int[]> counts) {
    Map<String, String> m = new LinkedHashMap<>();
    for (Attribute a : Attribute.values()) {
      int[] v = counts.get(a);
      if (v != null) {
        m.put(a.label(), v[0] + "/" + v[1]);
      }
    }
    return m;
  }

  private static String line(Map<Attribute, int[]> counts) {
    StringBuilder sb = new StringBuilder();
    for (Attribute a : Attribute.values()) {
      int[] v = counts.get(a);
      if (v != null) {
        sb.append(sb.length() == 0 ? "" : ", ")
            .append(String.format("%s %d/%d (%.1f%%)", a.label(), v[0], v[1], 100.0 * v[0] / v[1]));
      }
    }
    return sb.length() == 0 ? "none" : sb.toString();
  }
}
