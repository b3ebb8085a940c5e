package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user runs it: exit codes, messages, files written. */
class PerfusionCliTest {
  @TempDir Path dir;

  static final String MODEL = Path.of(System.getProperty("perfusion.testdata", "../../../shared/testdata"), "sd-tiny-ref").toAbsolutePath().toString();

  private String[] run(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    System.setOut(new PrintStream(o, true));
    System.setErr(new PrintStream(e, true));
    try {
      int code = PerfusionCli.run(args);
      return new String[] {Integer.toString(code), o.toString(), e.toString()};
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  @Test
  void generateWritesAPngOfTheCheckpointsSize() throws Exception {
    Path out = dir.resolve("a.png");
    String[] r = run("generate", "--model", MODEL, "--prompt", "a toy car", "--steps", "3", "--seed", "1", "--sampler", "euler_a", "--out", out.toString());
    assertEquals("0", r[0], r[2]);
    BufferedImage img = ImageIO.read(out.toFile());
    assertEquals(32, img.getWidth());
    assertTrue(r[2].contains("3/3"), "progress bar: " + r[2]);
  }

  @Test
  void trainBaseWritesAFolderThatGenerateLoads() throws Exception {
    Path model = dir.resolve("base");
    String[] r = run("train-base", "--out", model.toString(), "--vae-steps", "2", "--unet-steps", "2", "--batch", "2", "--images", "8",
        "--captions-for-cinv", "50", "--vae-channels", "16,32,32", "--unet-channels", "32,64", "--text-width", "32", "--text-layers", "2", "--text-pretrain-steps", "3");
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains(model.toAbsolutePath().toString()), r[1]);
    assertTrue(r[2].contains("vae step 2/2") && r[2].contains("unet step 2/2") && r[2].contains("covariance:"), r[2]);
    Path png = dir.resolve("b.png");
    String[] g = run("generate", "--model", model.toString(), "--prompt", "a red star", "--steps", "2", "--out", png.toString());
    assertEquals("0", g[0], g[2]);
    assertEquals(64, ImageIO.read(png.toFile()).getWidth());
  }

  /** The shipped demo concept acts on its own word: its gate is open there and closed on every other token of the prompt. */
  @Test
  void conceptGatesOfTheShippedConceptOpenOnItsWordOnly() {
    Path model = Path.of(System.getProperty("perfusion.models", "../../models"), "world-v1").toAbsolutePath();
    String[] r = run("concept-gates", "--model", model.toString(), "--concept", model.resolve("concepts/demo/zwx.safetensors").toString(),
        "--prompt", "a zwx on the left and a blue circle on the right");
    assertEquals("0", r[0], r[2]);
    int rows = 0;
    for (String line : r[1].split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length != 4 || !f[0].matches("\\d+")) {
        continue;
      }
      rows++;
      double gate = Double.parseDouble(f[3]);
      if (f[1].equals("zwx")) {
        assertTrue(gate > 0.5, line);
      } else {
        assertTrue(gate < 0.5, line);
      }
    }
    assertEquals(15, rows, r[1]); // start, 12 words, end, first padding token
    assertTrue(r[1].contains("mean gate over the 63 padding tokens"), r[1]);
  }

  @Test
  void missingModelFolderAndBadSamplerAreClearErrors() {
    String[] missing = run("generate", "--model", dir.resolve("nope").toString(), "--prompt", "x");
    assertEquals("1", missing[0]);
    assertTrue(missing[2].contains("does not exist"), missing[2]);
    String[] sampler = run("generate", "--model", MODEL, "--prompt", "x", "--sampler", "plms");
    assertEquals("1", sampler[0]);
    assertTrue(sampler[2].contains("unknown sampler 'plms'"), sampler[2]);
    String[] usage = run("generate", "--prompt", "x");
    assertEquals("2", usage[0]);
    assertTrue(usage[2].contains("--model"), usage[2]);
  }
}
