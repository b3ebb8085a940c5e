package org.perfusionjobs.evaluator.concepts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.evaluator.prompts.DemoConcept;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Scene;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Size;

class ConceptImagesTest {
  /**
   * The demo concept's images, now written through ConceptImages, are the shipped ones pixel for
   * pixel (the world renders as before).
   */
  @Test
  void theDemoConceptsImagesAreTheShippedOnes(@TempDir Path dir) throws Exception {
    Path shipped =
        Path.of(System.getProperty("perfusion.models", "models"), "world-v1", "concepts", "demo");
    List<Path> written = DemoConcept.write(dir);
    assertEquals(5, written.size());
    for (int i = 0; i < 5; i++) {
      for (String name : List.of("concept_" + i + ".png", "concept_" + i + "_mask.png")) {
        BufferedImage a = ImageIO.read(shipped.resolve(name).toFile());
        BufferedImage b = ImageIO.read(dir.resolve(name).toFile());
        for (int y = 0; y < 64; y++) {
          for (int x = 0; x < 64; x++) {
            assertEquals(a.getRGB(x, y), b.getRGB(x, y), name + " at " + x + "," + y);
          }
        }
      }
    }
  }

  @Test
  void fiveImagesVaryCellSizeAndBackgroundAndAvoidWhiteForAPattern() {
    ConceptSpec spec = ConceptSpec.parse("shape=heart,colour=blue,pattern=dots");
    for (long seed = 0; seed < 20; seed++) {
      List<Scene> scenes = ConceptImages.scenes(spec, 5, seed);
      assertEquals(5, scenes.size());
      List<SceneObject> objects = scenes.stream().map(s -> s.objects().get(0)).toList();
      assertTrue(scenes.stream().allMatch(s -> s.objects().size() == 1));
      assertTrue(
          objects.stream()
              .allMatch(
                  o ->
                      o.shape() == spec.shape()
                          && o.colour() == spec.colour()
                          && o.pattern() == Pattern.DOTS));
      assertEquals(
          5, objects.stream().map(SceneObject::position).distinct().count(), "distinct cells");
      assertEquals(
          2, objects.stream().map(SceneObject::size).distinct().count(), "large and medium");
      assertTrue(objects.stream().noneMatch(o -> o.size() == Size.SMALL));
      assertEquals(
          3,
          scenes.stream().map(Scene::background).distinct().count(),
          "the three non-white backgrounds");
      assertTrue(scenes.stream().noneMatch(s -> s.background() == Background.WHITE));
    }
    assertEquals(ConceptImages.scenes(spec, 5, 3), ConceptImages.scenes(spec, 5, 3));
    assertNotEquals(ConceptImages.scenes(spec, 5, 3), ConceptImages.scenes(spec, 5, 4));
    List<Scene> plain = ConceptImages.scenes(ConceptSpec.parse("shape=star,colour=red"), 8, 1);
    assertEquals(
        4,
        plain.stream().map(Scene::background).distinct().count(),
        "a plain concept may stand on white");
    var e = assertThrows(IllegalArgumentException.class, () -> ConceptImages.scenes(spec, 0, 1));
    assertTrue(e.getMessage().startsWith("count: "), e.getMessage());
  }
}
