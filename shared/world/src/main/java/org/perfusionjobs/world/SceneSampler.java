package org.perfusionjobs.world;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** Draws scenes with every attribute uniform, and two objects in a set fraction of them. */
final class SceneSampler {
  private final double twoObjectFraction;

  SceneSampler(double twoObjectFraction) {
    if (!(twoObjectFraction >= 0 && twoObjectFraction <= 1)) {
      throw new IllegalArgumentException("two-object fraction must be in [0, 1], not " + twoObjectFraction);
    }
    this.twoObjectFraction = twoObjectFraction;
  }

  Scene draw(SplittableRandom rng) {
    Background background = pick(Background.values(), rng);
    SceneObject first = object(pick(Position.values(), rng), rng);
    if (rng.nextDouble() >= twoObjectFraction) {
      return new Scene(background, List.of(first));
    }
    Position[] aligned = Arrays.stream(Position.values())
        .filter(p -> p.alignedWith(first.position()))
        .toArray(Position[]::new);
    return new Scene(background, List.of(first, object(pick(aligned, rng), rng)));
  }

  private static SceneObject object(Position position, SplittableRandom rng) {
    return new SceneObject(pick(Shape.values(), rng), pick(Colour.values(), rng), position, pick(Size.values(), rng));
  }

  static <T> T pick(T[] values, SplittableRandom rng) {
    return values[rng.nextInt(values.length)];
  }

  static <T> T pick(List<T> values, SplittableRandom rng) {
    return values.get(rng.nextInt(values.size()));
  }
}
