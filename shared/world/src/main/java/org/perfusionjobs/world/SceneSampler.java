package org.perfusionjobs.world;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** Draws scenes with every attribute uniform, and two objects in a set fraction of them. */
final class SceneSampler {
  private final double twoObjectFraction;
  private final double stripedFraction;

  SceneSampler(double twoObjectFraction, double stripedFraction) {
    if (!(twoObjectFraction >= 0 && twoObjectFraction <= 1)) {
      throw new IllegalArgumentException("two-object fraction must be in [0, 1], not " + twoObjectFraction);
    }
    if (!(stripedFraction >= 0 && stripedFraction <= 1)) {
      throw new IllegalArgumentException("striped fraction must be in [0, 1], not " + stripedFraction);
    }
    this.twoObjectFraction = twoObjectFraction;
    this.stripedFraction = stripedFraction;
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

  private SceneObject object(Position position, SplittableRandom rng) {
    SceneObject o = new SceneObject(pick(Shape.values(), rng), pick(Colour.values(), rng), position, pick(Size.values(), rng));
    // Drawn only when stripes are asked for, so that the plain world's scenes stay what they were.
    if (stripedFraction > 0 && rng.nextDouble() < stripedFraction) {
      return o.withPattern(Pattern.STRIPES);
    }
    return o;
  }

  static <T> T pick(T[] values, SplittableRandom rng) {
    return values[rng.nextInt(values.length)];
  }

  static <T> T pick(List<T> values, SplittableRandom rng) {
    return values.get(rng.nextInt(values.size()));
  }
}
