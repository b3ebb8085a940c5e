package org.perfusionjobs.world;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A backdrop with one object, or two objects in aligned cells (same row or column), so that their
 * masks never overlap and one {@link Relation} describes them; or, uncaptioned, up to nine objects
 * in distinct cells, so that the evaluator can learn and be tested to count crowded images.
 */
public record Scene(Background background, List<SceneObject> objects) {
  public Scene {
    Objects.requireNonNull(background, "background");
    objects = List.copyOf(objects);
    if (objects.isEmpty() || objects.size() > Position.values().length) {
      throw new IllegalArgumentException("a scene has one to nine objects, not " + objects.size());
    }
    if (objects.stream().map(SceneObject::position).distinct().count() < objects.size()) {
      throw new IllegalArgumentException(
          "objects must stand in distinct cells: "
              + objects.stream().map(SceneObject::position).toList());
    }
    if (objects.size() == 2 && !objects.get(0).position().alignedWith(objects.get(1).position())) {
      throw new IllegalArgumentException(
          "two objects must stand in different cells of one row or column: "
              + objects.get(0).position()
              + ", "
              + objects.get(1).position());
    }
  }

  /** How the first object stands to the second; empty unless the scene has exactly two objects. */
  public Optional<Relation> relation() {
    if (objects.size() != 2) {
      return Optional.empty();
    }
    return Optional.of(Relation.between(objects.get(0).position(), objects.get(1).position()));
  }
}
