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
        "--captions-for-cinv", "50", "--vae-channels", "16,32,32", "--unet-channels", "32,64", "--text-width", "32", "--text-layers", "2");
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains(model.toAbsolutePath().toString()), r[1]);
    assertTrue(r[2].contains("vae step 2/2") && r[2].contains("unet step 2/2") && r[2].contains("covariance:"), r[2]);
    Path png = dir.resolve("b.png");
    String[] g = run("generate", "--model", model.toString(), "--prompt", "a red star", "--steps", "2", "--out", png.toString());
    assertEquals("0", g[0], g[2]);
    assertEquals(64, ImageIO.read(png.toFile()).getWidth());
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
