package org.perfusionjobs.basemodel;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.clip.ClipTokenizer;

/**
 * How far a text encoder's output moves when one word of a caption changes, per attribute: the UNet
 * can only follow a word whose change moves the states it attends to. Each pair differs in one
 * world word (every world word is one token, so the two captions align token by token); the
 * distance of a pair is the mean over its tokens after the start token of |x_t - y_t| / |x_t| on
 * the last hidden states, and an attribute's figure is the mean over its pairs.
 */
public final class TextContrast {
  /** A caption pair that differs in one word of {@code attribute}. */
  public record Pair(String attribute, String a, String b) {}

  /** Three pairs per attribute, on varied objects and phrases. */
  public static final List<Pair> PAIRS =
      List.of(
          new Pair("column", "a red circle on the left", "a red circle on the right"),
          new Pair(
              "column",
              "a blue star in the top left corner",
              "a blue star in the top right corner"),
          new Pair(
              "column",
              "a green heart in the bottom left corner",
              "a green heart in the bottom right corner"),
          new Pair("row", "a red circle at the top", "a red circle at the bottom"),
          new Pair(
              "row", "a blue star in the top left corner", "a blue star in the bottom left corner"),
          new Pair(
              "row",
              "a green heart in the top right corner",
              "a green heart in the bottom right corner"),
          new Pair("colour", "a red circle on the left", "a blue circle on the left"),
          new Pair("colour", "a green star at the top", "a yellow star at the top"),
          new Pair("colour", "a purple heart in the centre", "an orange heart in the centre"),
          new Pair("shape", "a red circle on the left", "a red star on the left"),
          new Pair("shape", "a blue square at the top", "a blue heart at the top"),
          new Pair("shape", "a green triangle in the centre", "a green circle in the centre"),
          new Pair("size", "a small red circle on the left", "a large red circle on the left"),
          new Pair("size", "a small blue star at the top", "a large blue star at the top"),
          new Pair(
              "size", "a small green heart in the centre", "a large green heart in the centre"),
          new Pair(
              "background",
              "a red circle on a white background",
              "a red circle on a sand background"),
          new Pair(
              "background",
              "a blue star on a grey background",
              "a blue star on a white background"),
          new Pair(
              "background",
              "a green heart on a sand background",
              "a green heart on a grey background"));

  private TextContrast() {}

  /** Attribute -> mean relative distance of its {@link #PAIRS}, in the order they are listed. */
  public static Map<String, Double> measure(
      ClipTextModel te, ClipTokenizer tok, NDManager manager) {
    Map<String, double[]> sums = new LinkedHashMap<>();
    try (NDManager m = manager.newSubManager()) {
      for (Pair p : PAIRS) {
        int n = tok.encode(p.a()).length;
        if (tok.encode(p.b()).length != n) {
          throw new IllegalArgumentException(
              "pair \""
                  + p.a()
                  + "\" / \""
                  + p.b()
                  + "\": the captions tokenize to different lengths");
        }
        NDArray h = te.forward(tok.encode(List.of(p.a(), p.b()), m)); // (2, 77, width)
        double d = relativeDistance(h.get("0, 1:" + n + ", :"), h.get("1, 1:" + n + ", :"));
        double[] s = sums.computeIfAbsent(p.attribute(), k -> new double[2]);
        s[0] += d;
        s[1]++;
      }
    }
    Map<String, Double> out = new LinkedHashMap<>();
    sums.forEach((k, s) -> out.put(k, s[0] / s[1]));
    return out;
  }

  /** Mean over rows t of |x_t - y_t| / |x_t|, for (tokens, width) arrays of one shape. */
  public static double relativeDistance(NDArray x, NDArray y) {
    if (!x.getShape().equals(y.getShape()) || x.getShape().dimension() != 2) {
      throw new IllegalArgumentException(
          "relativeDistance needs two (tokens, width) arrays of one shape, got "
              + x.getShape()
              + " and "
              + y.getShape());
    }
    return x.sub(y).norm(new int[] {1}).div(x.norm(new int[] {1})).mean().getFloat();
  }
}
