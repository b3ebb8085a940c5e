package org.perfusionjobs.evaluator.prompts;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.perfusionjobs.evaluator.concepts.ConceptImages;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Scene;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Size;

/**
 * The demo concept's training images: {@link PromptSet#DEMO_CONCEPT} (a red star with white
 * stripes, which the captioned world never shows) in five scenes that vary position, size and
 * background, each with its exact mask. Backgrounds avoid white, on which the white stripes would
 * cut the star's outline apart.
 */
public final class DemoConcept {
  public static final String WORD = "zwx";
  public static final String SUPERCLASS = "star";

  private DemoConcept() {}

  public static List<Scene> scenes() {
    return List.of(
        scene(Position.CENTRE, Size.LARGE, Background.GREY),
        scene(Position.LEFT, Size.LARGE, Background.SKY),
        scene(Position.TOP_RIGHT, Size.MEDIUM, Background.SAND),
        scene(Position.BOTTOM, Size.LARGE, Background.SAND),
        scene(Position.CENTRE, Size.MEDIUM, Background.SKY));
  }

  /**
   * Writes {@code concept_<i>.png} and {@code concept_<i>_mask.png} for each scene; returns the
   * image files.
   */
  public static List<Path> write(Path dir) throws IOException {
    return ConceptImages.write(
        dir, scenes(), 100); // jitter seeds 100 + i: the images the shipped zwx was trained on
  }

  private static Scene scene(Position p, Size s, Background bg) {
    SceneObject c = PromptSet.DEMO_CONCEPT;
    return new Scene(bg, List.of(new SceneObject(c.shape(), c.colour(), p, s, c.pattern())));
  }
}
