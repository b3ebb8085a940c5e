package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.perfusionjobs.cli.CliRun.run;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.config.Configs;

/**
 * concept-images for any spec, eval of a concept with a prompts file and --json, train-evaluator
 * with hidden patterns.
 */
class ConceptCliTest {
  @TempDir Path dir;

  static final Path MODEL =
      Path.of(System.getProperty("perfusion.models", "../../models"), "world-v1").toAbsolutePath();

  @Test
  void conceptImagesWritesImagesAndExactMasksInDistinctCellsForAnySpec() throws Exception {
    Path out = dir.resolve("vkp");
    String[] r =
        run(
            "concept-images",
            "--spec",
            "shape=heart,colour=blue,pattern=dots",
            "--out",
            out.toString(),
            "--count",
            "5",
            "--seed",
            "3");
    assertEquals("0", r[0], r[2]);
    assertEquals(5, r[1].trim().split("\n").length, r[1]);
    Set<Integer> cells = new HashSet<>();
    for (int i = 0; i < 5; i++) {
      BufferedImage img = ImageIO.read(out.resolve("concept_" + i + ".png").toFile());
      BufferedImage mask = ImageIO.read(out.resolve("concept_" + i + "_mask.png").toFile());
      int bg = img.getRGB(0, 0); // objects keep off the image's edge: a corner is background
      long sx = 0;
      long sy = 0;
      int full = 0;
      for (int y = 0; y < 64; y++) {
        for (int x = 0; x < 64; x++) {
          int m = mask.getRaster().getSample(x, y, 0);
          if (m == 0) {
            assertEquals(
                bg, img.getRGB(x, y), "outside the mask at " + x + "," + y + " of image " + i);
          } else if (m == 255) {
            assertTrue(img.getRGB(x, y) != bg, "inside the mask at " + x + "," + y);
            sx += x;
            sy += y;
            full++;
          }
        }
      }
      assertTrue(full > 40, "image " + i + " covers " + full + " pixels");
      cells.add((int) (sx / full / (64 / 3.0)) + 3 * (int) (sy / full / (64 / 3.0)));
      // The blue heart's own colour (40, 80, 220) and the dots' white are both there.
      boolean blue = false;
      boolean white = false;
      for (int y = 0; y < 64; y++) {
        for (int x = 0; x < 64; x++) {
          int p = img.getRGB(x, y) & 0xffffff;
          blue |= p == 0x2850dc;
          white |= p == 0xfafafa;
        }
      }
      assertTrue(blue && white, "image " + i + ": blue " + blue + ", white " + white);
    }
    assertEquals(5, cells.size(), "five distinct cells: " + cells);
  }

  @Test
  void aBadSpecOrCountIsAOneLineErrorNamingTheField() {
    String[] shape =
        run("concept-images", "--spec", "shape=hexagon,colour=blue", "--out", dir.toString());
    assertEquals("2", shape[0]);
    assertTrue(
        shape[2].startsWith(
            "--spec shape: unknown 'hexagon', use one of [circle, square, triangle, star, heart]"),
        shape[2]);
    String[] missing = run("concept-images", "--spec", "shape=heart", "--out", dir.toString());
    assertTrue(missing[2].startsWith("--spec spec: colour missing"), missing[2]);
    String[] count = run("concept-images", "--out", dir.toString(), "--count", "3");
    assertEquals("2", count[0]);
    assertTrue(count[2].startsWith("--count and --seed need --spec"), count[2]);
  }

  /**
   * eval of the demo concept with a prompts file, two betas, --json: the last stdout line is one
   * JSON object with a run per beta; its exact count agrees with the per-image counts report.json
   * lists against the objects each line names (1, 2, 1).
   */
  @Test
  void evalOfAConceptWithAPromptsFilePrintsItsFiguresAsJson() throws Exception {
    Path prompts = dir.resolve("prompts.txt");
    Files.writeString(
        prompts,
        "# the demo concept\n"
            + "a {}\n\n"
            + "a {} on the left and a blue circle on the right\n"
            + "a large {} at the top\n");
    Path out = dir.resolve("eval");
    String[] r =
        run(
            "eval",
            "--model",
            MODEL.toString(),
            "--concept",
            MODEL.resolve("concepts/demo/zwx.safetensors").toString(),
            "--expect",
            "shape=star,colour=red,pattern=stripes",
            "--prompts-file",
            prompts.toString(),
            "--beta",
            "0.6,0.8",
            "--steps",
            "4",
            "--json",
            "--out",
            out.toString());
    assertEquals("0", r[0], r[2]);
    String[] lines = r[1].trim().split("\n");
    JsonNode json = Configs.json().readTree(lines[lines.length - 1]);
    assertEquals(2, json.get("runs").size(), lines[lines.length - 1]);
    JsonNode report = Configs.json().readTree(out.resolve("report.json").toFile());
    int[] asked = {1, 2, 1};
    for (int k = 0; k < 2; k++) {
      JsonNode run = json.get("runs").get(k);
      assertEquals(k == 0 ? 0.6 : 0.8, run.get("beta").asDouble(), 1e-6);
      assertEquals(3, run.get("images").asInt());
      for (String f : new String[] {"fidelity", "exactCount", "alignment", "composition"}) {
        double v = run.get(f).asDouble(-1);
        assertTrue(v >= 0 && v <= 1, f + " " + run);
      }
      JsonNode perPrompt = report.get("results").get(k).get("per_prompt");
      int exact = 0;
      for (int i = 0; i < 3; i++) {
        exact += perPrompt.get(i).get("count").asInt() == asked[i] ? 1 : 0;
      }
      assertEquals(exact / 3.0, run.get("exactCount").asDouble(), 1e-9, run.toString());
      // One prompt asks for the concept beside an ordinary object: composition is 0 or 1.
      assertTrue(
          run.get("composition").asDouble() == 0 || run.get("composition").asDouble() == 1,
          run.toString());
    }
    assertEquals(
        "a zwx on the left and a blue circle on the right",
        report.get("results").get(0).get("per_prompt").get(1).get("prompt").asText());
  }

  @Test
  void evalRefusesABadPromptsFileByLine() throws Exception {
    Path prompts = dir.resolve("bad.txt");
    Files.writeString(prompts, "a {}\na {} left of a red star\n");
    String[] r =
        run(
            "eval",
            "--model",
            MODEL.toString(),
            "--concept",
            MODEL.resolve("concepts/demo/zwx.safetensors").toString(),
            "--prompts-file",
            prompts.toString(),
            "--json");
    assertEquals("1", r[0]);
    assertTrue(
        r[2].contains(
            "line 2: prompt 'a {} left of a red star': relations ('left of') are not scored"),
        r[2]);
    String[] expect =
        run(
            "eval",
            "--model",
            MODEL.toString(),
            "--concept",
            MODEL.resolve("concepts/demo/zwx.safetensors").toString(),
            "--expect",
            "shape=star,colour=red,pattern=zigzag");
    assertEquals("2", expect[0]);
    assertTrue(expect[2].startsWith("--expect pattern: unknown 'zigzag'"), expect[2]);
  }

  /**
   * train-evaluator, a handful of steps: the saved evaluator lists the hidden patterns it was asked
   * to learn.
   */
  @Test
  void trainEvaluatorLearnsTheNamedPatterns() throws Exception {
    Path out = dir.resolve("evaluator");
    String[] r =
        run(
            "train-evaluator",
            "--out",
            out.toString(),
            "--steps",
            "3",
            "--images-per-step",
            "4",
            "--test-images",
            "8",
            "--patterns",
            "dots,ring",
            "--crowded-fraction",
            "0.25",
            "--patterned-fraction",
            "0.5");
    assertEquals("0", r[0], r[2]);
    JsonNode config = Configs.json().readTree(out.resolve("config.json").toFile());
    assertEquals("[\"plain\",\"dots\",\"ring\"]", config.get("patterns").toString());
    for (String check :
        new String[] {
          "accuracy_fresh_world_with_patterns",
          "accuracy_fresh_crowded_3_to_4_objects",
          "accuracy_fresh_every_object_patterned"
        }) {
      assertTrue(config.get("info").has(check), check + " in " + config);
    }
    assertTrue(
        config
            .get("info")
            .get("command")
            .asText()
            .contains("--patterns dots,ring --patterned-fraction 0.5 --crowded-fraction 0.25"),
        config.toString());
    String[] bad =
        run("train-evaluator", "--out", out.toString(), "--steps", "1", "--patterns", "plain");
    assertEquals("1", bad[0]);
    assertTrue(bad[2].contains("patterns"), bad[2]);
  }
}
