package org.perfusionjobs.evaluator;

import java.util.List;
import java.util.Optional;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Position;

/**
 * What the evaluator reads from one image: its background and the objects it found, most
 * confident first (one or two: every cell whose presence probability is over one half, at most
 * two, and at least the most likely cell).
 */
public record ScenePrediction(Background background, List<ObjectPrediction> objects) {
  public ScenePrediction {
    objects = List.copyOf(objects);
  }

  public Optional<ObjectPrediction> at(Position p) {
    return objects.stream().filter(o -> o.position() == p).findFirst();
  }
}
