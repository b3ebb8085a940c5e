package org.perfusionjobs.evaluator.prompts;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.world.Shape;

/**
 * Shape right per asked shape, over the one-object prompts that ask for one: which shapes a model
 * draws from words and which it does not. Two-object prompts are left out, since their objects'
 * matching to found objects mixes the two.
 */
public record ShapeBreakdown(Map<Shape, int[]> counts) {
  /** {@code counts.get(s)} = {right, asked}; shapes no prompt asked for are absent. */
  public ShapeBreakdown {
    counts = Map.copyOf(counts);
  }

  public static ShapeBreakdown of(List<EvalPrompt> prompts, List<PromptScore> scores) {
    if (prompts.size() != scores.size()) {
      throw new IllegalArgumentException(
          "prompts (" + prompts.size() + ") and scores (" + scores.size() + ") differ in number");
    }
    Map<Shape, int[]> c = new EnumMap<>(Shape.class);
    for (int i = 0; i < prompts.size(); i++) {
      EvalPrompt p = prompts.get(i);
      if (p.objects().size() != 1 || !p.objects().get(0).attributes().contains(Attribute.SHAPE)) {
        continue;
      }
      int[] slot = c.computeIfAbsent(p.objects().get(0).object().shape(), s -> new int[2]);
      slot[0] += scores.get(i).counts().get(Attribute.SHAPE)[0];
      slot[1]++;
    }
    return new ShapeBreakdown(c);
  }

  /** For report.json: shape word -> "right/asked", in the shapes' order. */
  public Map<String, String> toMap() {
    Map<String, String> m = new LinkedHashMap<>();
    for (Shape s : Shape.values()) {
      int[] v = counts.get(s);
      if (v != null) {
        m.put(s.words().get(0), v[0] + "/" + v[1]);
      }
    }
    return m;
  }

  /** One line, e.g. "circle 7/24, square 22/40, ...". */
  public String summary() {
    StringBuilder sb = new StringBuilder();
    toMap()
        .forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ", ").append(k).append(' ').append(v));
    return sb.toString();
  }
}
