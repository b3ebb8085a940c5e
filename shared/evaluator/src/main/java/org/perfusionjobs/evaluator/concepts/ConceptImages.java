package org.perfusionjobs.evaluator.concepts;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Rendering;
import org.perfusionjobs.world.Scene;
import org.perfusionjobs.world.Size;
import org.perfusionjobs.world.World;

/**
 * A concept's training images for any spec: one object in varied cells (distinct for up to nine
 * images), sizes (large and medium in turn: small ones carry too few pixels of a pattern) and
 * backgrounds (in turn), each with its exact mask, all a pure function of the seed. A patterned
 * concept avoids the white background, on which its white parts would cut its outline apart.
 */
public final class ConceptImages {
  public static final int DEFAULT_COUNT = 5;

  private ConceptImages() {}

  public static List<Scene> scenes(ConceptSpec spec, int count, long seed) {
    if (count < 1) {
      throw new IllegalArgumentException("count: at least 1 image, not " + count);
    }
    if (spec.anyFill()) {
      throw new IllegalArgumentException(
          "pattern: 'any' only scores; name the fill to draw, e.g. pattern=stripes");
    }
    Random rnd = new Random(seed);
    List<Position> cells = new ArrayList<>(Arrays.asList(Position.values()));
    Collections.shuffle(cells, rnd);
    List<Background> backgrounds =
        new ArrayList<>(
            Arrays.stream(Background.values())
                .filter(b -> spec.pattern() == Pattern.PLAIN || b != Background.WHITE)
                .toList());
    Collections.shuffle(backgrounds, rnd);
    boolean largeFirst = rnd.nextBoolean();
    List<Scene> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      Size size = (i % 2 == 0) == largeFirst ? Size.LARGE : Size.MEDIUM;
      out.add(
          new Scene(
              backgrounds.get(i % backgrounds.size()),
              List.of(spec.object(cells.get(i % cells.size()), size))));
    }
    return out;
  }

  /**
   * Writes {@code concept_<i>.png} and {@code concept_<i>_mask.png} for each scene; returns the
   * image files.
   */
  public static List<Path> write(Path dir, List<Scene> scenes, long seed) throws IOException {
    Files.createDirectories(dir);
    World world = new World();
    List<Path> out = new ArrayList<>();
    for (int i = 0; i < scenes.size(); i++) {
      Rendering r = world.render(scenes.get(i), seed + i);
      Path img = dir.resolve("concept_" + i + ".png");
      ImageIO.write(r.image(), "png", img.toFile());
      ImageIO.write(r.masks().get(0), "png", dir.resolve("concept_" + i + "_mask.png").toFile());
      out.add(img);
    }
    return out;
  }

  /** {@link #scenes} rendered into {@code dir}. */
  public static List<Path> write(Path dir, ConceptSpec spec, int count, long seed)
      throws IOException {
    return write(dir, scenes(spec, count, seed), seed);
  }
}
