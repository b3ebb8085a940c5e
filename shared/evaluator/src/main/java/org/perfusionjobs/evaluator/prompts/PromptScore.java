package org.perfusionjobs.evaluator.prompts;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.evaluator.ObjectPrediction;
import org.perfusionjobs.evaluator.ScenePrediction;
import org.perfusionjobs.world.SceneObject;

/**
 * How one image answers one prompt: per attribute, how many asked checks the evaluator confirms.
 * Asked objects are matched to found objects by the assignment that confirms the most checks (so "a
 * red star on the left and a blue circle on the right" is not failed for the order in which the
 * evaluator lists them); an asked object with no found object fails all its checks.
 */
public record PromptScore(Map<Attribute, int[]> counts, List<Boolean> objectsRight) {
  /**
   * {@code counts.get(a)} = {confirmed, asked}; {@code objectsRight.get(k)}: whether every check of
   * asked object k was confirmed (the background aside), under the chosen assignment.
   */
  public PromptScore {
    counts = Map.copyOf(counts);
    objectsRight = List.copyOf(objectsRight);
  }

  /** Counts only, for totals that need no per-object result. */
  public PromptScore(Map<Attribute, int[]> counts) {
    this(counts, List.of());
  }

  public static PromptScore of(EvalPrompt prompt, ScenePrediction found) {
    List<ObjectPrediction> objs = found.objects();
    List<int[]> assignments = new ArrayList<>(); // index into objs per asked object, -1 = none
    if (prompt.objects().size() == 1) {
      for (int i = 0; i < objs.size(); i++) {
        assignments.add(new int[] {i});
      }
    } else {
      for (int i = 0; i < objs.size(); i++) {
        for (int j = 0; j < objs.size(); j++) {
          if (i != j) {
            assignments.add(new int[] {i, j});
          }
        }
        assignments.add(new int[] {i, -1});
        assignments.add(new int[] {-1, i});
      }
    }
    Map<Attribute, int[]> best = null;
    List<Boolean> bestRight = null;
    int bestHits = -1;
    for (int[] a : assignments) {
      Map<Attribute, int[]> c = new EnumMap<>(Attribute.class);
      List<Boolean> right = new ArrayList<>();
      int hits = 0;
      for (int k = 0; k < prompt.objects().size(); k++) {
        EvalPrompt.Asked asked = prompt.objects().get(k);
        ObjectPrediction p = a[k] < 0 ? null : objs.get(a[k]);
        boolean all = p != null;
        for (Attribute attr : asked.attributes()) {
          boolean ok = p != null && matches(attr, asked, p);
          hits += ok ? 1 : 0;
          all &= ok;
          int[] slot = c.computeIfAbsent(attr, x -> new int[2]);
          slot[0] += ok ? 1 : 0;
          slot[1]++;
        }
        right.add(all);
      }
      if (hits > bestHits) {
        bestHits = hits;
        best = c;
        bestRight = right;
      }
    }
    if (prompt.background() != null) {
      best.put(
          Attribute.BACKGROUND, new int[] {found.background() == prompt.background() ? 1 : 0, 1});
    }
    return new PromptScore(best, bestRight);
  }

  private static boolean matches(Attribute a, EvalPrompt.Asked asked, ObjectPrediction got) {
    SceneObject want = asked.object();
    return switch (a) {
      case SHAPE -> got.shape() == want.shape();
      case COLOUR -> got.colour() == want.colour();
      case SIZE -> got.size() == want.size();
      case POSITION -> got.position() == want.position();
      case CONCEPT -> asked.concept().matches(got);
      case BACKGROUND -> throw new IllegalArgumentException("background is scored per image");
    };
  }

  /** Adds this score's counts into {@code total}. */
  public void addTo(Map<Attribute, int[]> total) {
    counts.forEach(
        (a, c) -> {
          int[] t = total.computeIfAbsent(a, x -> new int[2]);
          t[0] += c[0];
          t[1] += c[1];
        });
  }
}
