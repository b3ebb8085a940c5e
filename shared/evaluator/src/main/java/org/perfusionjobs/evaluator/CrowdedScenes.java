package org.perfusionjobs.evaluator;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Rendering;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.Scene;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;
import org.perfusionjobs.world.World;

/**
 * Scenes with more objects than the captioned world draws (three to nine, in distinct cells, any
 * attributes), as samples with an empty caption: generated images often hold extra copies, so the
 * evaluator is trained and measured on counting them.
 *
 * @param minObjects fewest objects per scene (at least 3: fewer are the world's own scenes)
 * @param maxObjects most objects per scene (at most 9)
 * @param patternedFraction share of objects drawn with one of {@code patterns}
 * @param patterns hidden patterns to draw from, uniformly
 */
public record CrowdedScenes(
    int minObjects, int maxObjects, double patternedFraction, List<Pattern> patterns) {
  private static final World RENDERER = new World();

  public CrowdedScenes {
    if (minObjects < 3 || maxObjects > Position.values().length || minObjects > maxObjects) {
      throw new IllegalArgumentException(
          "objects: between 3 and 9 per scene, min <= max, not " + minObjects + ".." + maxObjects);
    }
    patterns = List.copyOf(patterns);
  }

  /** The sample of {@code seed}: a pure function of it. */
  public Sample sample(long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    int n = minObjects + rng.nextInt(maxObjects - minObjects + 1);
    List<Position> cells = new ArrayList<>(Arrays.asList(Position.values()));
    Collections.shuffle(cells, new Random(rng.nextLong()));
    Background background = pick(Background.values(), rng);
    List<SceneObject> objects = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      SceneObject o =
          new SceneObject(
              pick(Shape.values(), rng),
              pick(Colour.values(), rng),
              cells.get(i),
              pick(Size.values(), rng));
      if (!patterns.isEmpty() && rng.nextDouble() < patternedFraction) {
        o = o.withPattern(patterns.get(rng.nextInt(patterns.size())));
      }
      objects.add(o);
    }
    Scene scene = new Scene(background, objects);
    Rendering r = RENDERER.render(scene, rng.nextLong());
    return new Sample(seed, scene, r.image(), r.masks(), "");
  }

  /** {@code n} samples whose seeds are drawn from {@code seed}. */
  public List<Sample> samples(long seed, int n) {
    return new SplittableRandom(seed).longs(n).mapToObj(this::sample).toList();
  }

  private static <T> T pick(T[] values, SplittableRandom rng) {
    return values[rng.nextInt(values.length)];
  }
}
