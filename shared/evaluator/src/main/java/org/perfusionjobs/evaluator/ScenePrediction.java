package org.perfusionjobs.evaluator;

import java.util.List;
import java.util.Optional;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Position;

/**
 * What the evaluator reads from one image: its background and the objects it found, most confident
 * first (every cell whose presence probability is over one half, and at least the most likely cell:
 * one to nine).
 */
public record ScenePrediction(Background background, List<ObjectPrediction> objects) {
  public ScenePrediction {
    objects = List.copyOf(objects);
  }

  /** How many objects the evaluator sees. */
  public int count() {
    return objects.size();
  }

  public Optional<ObjectPrediction> at(Position p) {
    return objects.stream().filter(o -> o.position() == p).findFirst();
  }
}
