package org.perfusionjobs.evaluator;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.World;

/**
 * The evaluator's accuracy on fresh rendered images, per attribute. Position and object count are
 * scored per image (the set of occupied cells must be exactly right); shape, colour, size and
 * pattern per object, read at the object's true cell (an object not found there counts as wrong for
 * all four); background per image.
 */
public record Accuracy(int images, int objects, Map<String, Double> byAttribute) {
  public static final List<String> ATTRIBUTES =
      List.of("count", "position", "shape", "colour", "size", "pattern", "background");

  /** Measures on {@code n} samples of {@code world} drawn from {@code seed}. */
  public static Accuracy measure(Evaluator evaluator, World world, long seed, int n) {
    return measure(evaluator, world.samples(seed, n).toList());
  }

  /** Measures on given samples (their images may have been changed, e.g. put through a VAE). */
  public static Accuracy measure(Evaluator evaluator, List<Sample> samples) {
    return of(samples, evaluator.predict(samples.stream().map(Sample::image).toList()));
  }

  /** Scores predictions already made for the samples, one per sample in order. */
  public static Accuracy of(List<Sample> samples, List<ScenePrediction> preds) {
    if (samples.size() != preds.size()) {
      throw new IllegalArgumentException(
          "samples ("
              + samples.size()
              + ") and predictions ("
              + preds.size()
              + ") differ in number");
    }
    int n = samples.size();
    int count = 0;
    int position = 0;
    int background = 0;
    int objects = 0;
    int shape = 0;
    int colour = 0;
    int size = 0;
    int pattern = 0;
    for (int i = 0; i < n; i++) {
      List<SceneObject> truth = samples.get(i).scene().objects();
      ScenePrediction p = preds.get(i);
      count += p.objects().size() == truth.size() ? 1 : 0;
      Set<?> cells = truth.stream().map(SceneObject::position).collect(Collectors.toSet());
      position +=
          cells.equals(
                  p.objects().stream().map(ObjectPrediction::position).collect(Collectors.toSet()))
              ? 1
              : 0;
      background += p.background() == samples.get(i).scene().background() ? 1 : 0;
      for (SceneObject o : truth) {
        objects++;
        Optional<ObjectPrediction> at = p.at(o.position());
        if (at.isPresent()) {
          shape += at.get().shape() == o.shape() ? 1 : 0;
          colour += at.get().colour() == o.colour() ? 1 : 0;
          size += at.get().size() == o.size() ? 1 : 0;
          pattern += at.get().pattern() == o.pattern() ? 1 : 0;
        }
      }
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("count", count / (double) n);
    m.put("position", position / (double) n);
    m.put("shape", shape / (double) objects);
    m.put("colour", colour / (double) objects);
    m.put("size", size / (double) objects);
    m.put("pattern", pattern / (double) objects);
    m.put("background", background / (double) n);
    return new Accuracy(n, objects, m);
  }
}
