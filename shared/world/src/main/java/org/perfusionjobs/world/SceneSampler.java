package org.perfusionjobs.world;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** Draws scenes with every attribute uniform, and two objects in a set fraction of them. */
final class SceneSampler {
  private final double twoObjectFraction;
  private final double patternedFraction;
  private final List<Pattern> patterns;

  /**
   * @param patterns what a patterned object is drawn with, uniformly
   */
  SceneSampler(double twoObjectFraction, double patternedFraction, List<Pattern> patterns) {
    if (!(twoObjectFraction >= 0 && twoObjectFraction <= 1)) {
      throw new IllegalArgumentException(
          "two-object fraction must be in [0, 1], not " + twoObjectFraction);
    }
    if (!(patternedFraction >= 0 && patternedFraction <= 1)) {
      throw new IllegalArgumentException(
          "patterned (striped) fraction must be in [0, 1], not " + patternedFraction);
    }
    if (patterns.isEmpty() || patterns.contains(Pattern.PLAIN)) {
      throw new IllegalArgumentException(
          "patterns: name one or more hidden patterns (not plain), got " + patterns);
    }
    this.twoObjectFraction = twoObjectFraction;
    this.patternedFraction = patternedFraction;
    this.patterns = List.copyOf(patterns);
  }

  Scene draw(SplittableRandom rng) {
    Background background = pick(Background.values(), rng);
    SceneObject first = object(pick(Position.values(), rng), rng);
    if (rng.nextDouble() >= twoObjectFraction) {
      return new Scene(background, List.of(first));
    }
    Position[] aligned =
        Arrays.stream(Position.values())
            .filter(p -> p.alignedWith(first.position()))
            .toArray(Position[]::new);
    return new Scene(background, List.of(first, object(pick(aligned, rng), rng)));
  }

  private SceneObject object(Position position, SplittableRandom rng) {
    SceneObject o =
        new SceneObject(
            pick(Shape.values(), rng),
            pick(Colour.values(), rng),
            position,
            pick(Size.values(), rng));
    // Drawn only when patterns are asked for, and which one only when there is a choice, so that
    // the plain and the stripes-only worlds draw exactly the scenes they always drew.
    if (patternedFraction > 0 && rng.nextDouble() < patternedFraction) {
      return o.withPattern(patterns.size() == 1 ? patterns.get(0) : pick(patterns, rng));
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
