package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command end to end on a real broker and redis-server, with a few training
 * steps: both concepts trained as jobs, the single-concept job and the job with both drawn, each
 * concept confined to its cell, every image fetched through the gateway.
 */
class DemoCommandTest {
  private static final Path MODEL =
      Path.of(System.getProperty("perfusion.models", "../../models"), "world-v2").toAbsolutePath();

  @Test
  @Timeout(600)
  void trainsTwoConceptsAndDrawsTheFirstAloneThenBothTogether(@TempDir Path out) throws Exception {
    String[] d =
        CliRun.run(
            "demo",
            "--model",
            MODEL.toString(),
            "--port",
            "0",
            "--exit",
            "--train-steps",
            "4",
            "--out",
            out.toString());
    assertEquals("0", d[0], d[1] + d[2]);
    String log = d[1];

    List<String> trained = ids(log, "produced train request (demo-train-[0-9a-f]{8})");
    List<String> generated = ids(log, "produced generate request (demo-gen-[0-9a-f]{8})");
    assertEquals(2, trained.size(), log);
    assertEquals(2, generated.size(), log);
    assertTrue(log.contains("(concept 'zwx', superclass 'star'"), log);
    assertTrue(log.contains("(concept 'xbt', superclass 'square', 5 images from "), log);
    // The demo concept at a third of the method's embedding rate, the second at the method's own.
    assertTrue(
        Pattern.compile("\\(concept 'zwx', [^\n]*, embedding rate 0\\.002\\)\n")
            .matcher(log)
            .find(),
        log);
    assertTrue(
        Pattern.compile("\\(concept 'xbt', [^\n]*, embedding rate 0\\.006\\)\n")
            .matcher(log)
            .find(),
        log);
    assertTrue(
        log.contains(
            "(\"a large zwx on a sand background\", drawn as \"a large zwx in the centre on a"
                + " sand background\") using concept "
                + trained.get(0)
                + "\n"),
        log);
    assertTrue(
        log.contains(
            "(\"a zwx on the left and a xbt on the right\") using concepts "
                + trained.get(0)
                + ", "
                + trained.get(1)
                + "\n"),
        log);
    assertTrue(
        log.contains(
            "  each concept confined to its region: \"a large zwx in the centre on a sand"
                + " background\" in [0.33, 0.33, 0.67, 0.67], beta 0.5\n"),
        "the single job's concept in the centre cell (one object with no position), named there,"
            + " at the demo's beta: "
            + log);
    assertTrue(
        log.contains(
            "  each concept confined to its region: \"a zwx on the left\" in [0.00, 0.33, 0.33,"
                + " 0.67], \"a xbt on the right\" in [0.67, 0.33, 1.00, 0.67]\n"),
        "the pair job's regions (generate-request v3): " + log);
    assertTrue(
        log.contains("/?watch=" + String.join(",", interleave(trained, generated)) + "#token="),
        "the page watches all four jobs: " + log);

    try (Stream<Path> s = Files.list(out)) {
      assertEquals(8, s.filter(p -> p.toString().endsWith(".png")).count(), "4 images per job");
    }
    for (String job : generated) {
      for (int i = 0; i < 4; i++) {
        BufferedImage img = ImageIO.read(out.resolve(job + "-" + i + ".png").toFile());
        assertTrue(img != null, job + " image " + i + " is a PNG");
        assertEquals(64, img.getWidth(), "the world model's 64 px: " + job + " image " + i);
      }
    }
    // The second concept's images are the benchmark's (spec rendered with seed 0), with masks.
    try (Stream<Path> s = Files.list(out.resolve("concept-xbt"))) {
      assertEquals(10, s.count());
    }
    assertTrue(Files.isRegularFile(out.resolve("concept-xbt/concept_4_mask.png")));
  }

  private static List<String> ids(String log, String regex) {
    Matcher m = Pattern.compile(regex).matcher(log);
    List<String> out = new java.util.ArrayList<>();
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  private static List<String> interleave(List<String> trained, List<String> generated) {
    return List.of(trained.get(0), generated.get(0), trained.get(1), generated.get(1));
  }
}
