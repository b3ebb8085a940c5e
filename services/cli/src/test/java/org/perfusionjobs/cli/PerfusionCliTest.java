package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.perfusionjobs.cli.CliRun.run;

import java.awt.image.BufferedImage;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.testdata.TestData;

/** The command line as a user runs it: exit codes, messages, files written. */
class PerfusionCliTest {
  @TempDir Path dir;

  static final String MODEL = TestData.sdTinyRef().toString();

  /** The bundled world model (the folder Surefire names, else the repository's). */
  static final Path WORLD =
      Path.of(System.getProperty("perfusion.models", "../../models"), "world-v2").toAbsolutePath();

  @Test
  void generateWritesAPngOfTheCheckpointsSize() throws Exception {
    Path out = dir.resolve("a.png");
    String[] r =
        run(
            "generate",
            "--model",
            MODEL,
            "--prompt",
            "a toy car",
            "--steps",
            "3",
            "--seed",
            "1",
            "--sampler",
            "euler_a",
            "--out",
            out.toString());
    assertEquals("0", r[0], r[2]);
    BufferedImage img = ImageIO.read(out.toFile());
    assertEquals(32, img.getWidth());
    assertTrue(r[2].contains("3/3"), "progress bar: " + r[2]);
  }

  @Test
  void trainBaseWritesAFolderThatGenerateLoads() throws Exception {
    Path model = dir.resolve("base");
    String[] r =
        run(
            "train-base",
            "--out",
            model.toString(),
            "--init-from",
            "none",
            "--vae-steps",
            "2",
            "--unet-steps",
            "2",
            "--batch",
            "2",
            "--images",
            "8",
            "--captions-for-cinv",
            "50",
            "--vae-channels",
            "16,32,32",
            "--unet-channels",
            "32,64",
            "--text-width",
            "32",
            "--text-layers",
            "2",
            "--text-pretrain-steps",
            "3");
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains(model.toAbsolutePath().toString()), r[1]);
    assertTrue(
        r[2].contains("vae step 2/2")
            && r[2].contains("unet step 2/2")
            && r[2].contains("covariance:"),
        r[2]);
    Path png = dir.resolve("b.png");
    String[] g =
        run(
            "generate",
            "--model",
            model.toString(),
            "--prompt",
            "a red star",
            "--steps",
            "2",
            "--out",
            png.toString());
    assertEquals("0", g[0], g[2]);
    assertEquals(64, ImageIO.read(png.toFile()).getWidth());
  }

  /**
   * concept-gates on the shipped demo concept: one row per token up to the first padding token; the
   * gate closed (< 0.1) on every token before the concept's word, open (> 0.5) on the word, and
   * closed on the padding on average. After the word the causal text encoder carries the concept
   * on, so the gate may open there too (0.83 on the "on" right after it on revision 7, 0.31 on
   * revision 6, 0.82 on revision 5; 0.97 on "left" on revision 4); since revision 5 the position
   * word "left" stays below a tenth of the word's own gate (0.038 against 0.905 when measured on
   * revision 7, 0.013 against 0.92 on revision 6), which this test keeps.
   */
  @Test
  void conceptGatesOfTheShippedConceptOpenOnItsWordNotBefore() {
    Path model =
        Path.of(System.getProperty("perfusion.models", "../../models"), "world-v1")
            .toAbsolutePath();
    String[] r =
        run(
            "concept-gates",
            "--model",
            model.toString(),
            "--concept",
            model.resolve("concepts/demo/zwx.safetensors").toString(),
            "--prompt",
            "a zwx on the left and a blue circle on the right");
    assertEquals("0", r[0], r[2]);
    int rows = 0;
    double own = -1;
    double before = -1;
    double left = -1;
    for (String line : r[1].split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length != 4 || !f[0].matches("\\d+")) {
        continue;
      }
      rows++;
      double gate = Double.parseDouble(f[3]);
      if (f[1].equals("zwx")) {
        own = gate;
      } else if (f[1].equals("left</w>")) {
        left = gate;
      } else if (own < 0) {
        before = Math.max(before, gate);
      }
    }
    assertTrue(own > 0.5, "gate on zwx " + own + ":\n" + r[1]);
    assertTrue(before >= 0 && before < 0.1, "gate before zwx up to " + before + ":\n" + r[1]);
    assertTrue(
        left >= 0 && left < 0.1 * own,
        "gate on left " + left + " against " + own + " on zwx:\n" + r[1]);
    assertEquals(15, rows, r[1]); // start, 12 words, end, first padding token
    Matcher pad = Pattern.compile("mean gate over the 63 padding tokens ([0-9.]+)").matcher(r[1]);
    assertTrue(pad.find(), r[1]);
    assertTrue(Double.parseDouble(pad.group(1)) < 0.1, "padding gates: " + pad.group(0));
  }

  /**
   * text-reliance on the bundled model: its UNet uses the words at high noise (right / empty 0.50
   * at t = 700 and 0.43 at 900 when measured on revision 7).
   */
  @Test
  void textRelianceShowsTheBundledModelUsingItsWords() {
    Path model = WORLD;
    String[] r = run("text-reliance", "--model", model.toString(), "--timesteps", "700,900");
    assertEquals("0", r[0], r[2]);
    String[] lines = r[1].trim().split("\n");
    assertEquals(3, lines.length, r[1]);
    for (int i = 1; i < 3; i++) {
      String[] f = lines[i].trim().split("\\s+");
      double right = Double.parseDouble(f[1]);
      double empty = Double.parseDouble(f[2]);
      double shuffled = Double.parseDouble(f[3]);
      assertTrue(right < 0.95 * empty && right < shuffled, lines[i]);
    }
    String[] bad = run("text-reliance", "--model", model.toString(), "--images", "1");
    assertEquals("1", bad[0]);
    assertTrue(bad[2].contains("--images must be at least 2"), bad[2]);
  }

  /**
   * vae-check on the bundled VAE: the evaluator reads the original images right (it is at 98% or
   * more), and the round trip keeps colour and background (shape is what a VAE this small loses
   * first: measured in the model card); bad counts are refused by name.
   */
  @Test
  void vaeCheckReadsTheBundledVaesRoundTrip() {
    Path model = WORLD;
    String[] r =
        run(
            "vae-check",
            "--vae",
            model.resolve("vae").toString(),
            "--evaluator",
            model.resolve("evaluator").toString(),
            "--images",
            "40");
    assertEquals("0", r[0], r[2]);
    String[] lines = r[1].trim().split("\n");
    assertEquals(3, lines.length, r[1]);
    assertTrue(
        lines[1].startsWith("original images: ")
            && percent(lines[1], "shape") >= 95
            && percent(lines[1], "colour") >= 95,
        lines[1]);
    assertTrue(lines[2].startsWith(model.resolve("vae").toString()), lines[2]);
    assertTrue(
        percent(lines[2], "colour") >= 90 && percent(lines[2], "background") >= 90, lines[2]);
    // With --shapes, a table of how each true shape is read; with --grid, originals above round
    // trips.
    Path grid = dir.resolve("rt.png");
    String[] t =
        run(
            "vae-check",
            "--vae",
            model.resolve("vae").toString(),
            "--evaluator",
            model.resolve("evaluator").toString(),
            "--images",
            "40",
            "--shapes",
            "--grid",
            grid.toString());
    assertEquals("0", t[0], t[2]);
    String[] tl = t[1].trim().split("\n");
    assertEquals(3 + 1 + 1 + 5, tl.length, t[1]);
    assertTrue(tl[3].startsWith("grid of the first 32 images"), tl[3]);
    assertTrue(
        tl[4].startsWith("true\\read") && tl[5].startsWith("circle") && tl[9].startsWith("heart"),
        t[1]);
    BufferedImage g = assertDoesNotThrow(() -> ImageIO.read(grid.toFile()));
    assertEquals(512, g.getWidth());
    assertEquals(512, g.getHeight());
    String[] bad = run("vae-check", "--vae", model.resolve("vae").toString(), "--images", "0");
    assertEquals("1", bad[0]);
    assertTrue(bad[2].contains("--images must be at least 1"), bad[2]);
  }

  /**
   * vae-check --concept: the concept drawn alone, found by the evaluator in nearly every original
   * (it reads fresh images at 98% or more), and a count per size that adds up, before and after the
   * round trip; a bad spec is refused by field.
   */
  @Test
  void vaeCheckFindsAConceptBeforeAndAfterTheRoundTrip() {
    Path vae = WORLD.resolve("vae");
    String[] r =
        run(
            "vae-check",
            "--vae",
            vae.toString(),
            "--evaluator",
            WORLD.resolve("evaluator").toString(),
            "--images",
            "30",
            "--concept",
            "shape=star,colour=red,pattern=stripes");
    assertEquals("0", r[0], r[2]);
    String[] lines = r[1].trim().split("\n");
    assertEquals(4, lines.length, r[1]);
    String line = lines[3];
    assertTrue(line.startsWith("concept shape=star,colour=red,pattern=stripes: "), line);
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "(\\d+) of 30 \\([\\d.]+%\\), small (\\d+)/(\\d+), medium (\\d+)/(\\d+),"
                    + " large (\\d+)/(\\d+)")
            .matcher(line);
    int[][] parts = new int[2][];
    for (int k = 0; k < 2; k++) {
      assertTrue(m.find(), line);
      int[] v = new int[7];
      for (int g = 0; g < 7; g++) {
        v[g] = Integer.parseInt(m.group(g + 1));
      }
      assertEquals(v[0], v[1] + v[3] + v[5], line);
      assertEquals(30, v[2] + v[4] + v[6], line);
      parts[k] = v;
    }
    assertTrue(parts[0][0] >= 27, "originals: " + line);
    assertTrue(line.contains("; after " + vae + ": "), line);
    String[] bad = run("vae-check", "--vae", vae.toString(), "--concept", "shape=star,colour=pink");
    assertEquals("2", bad[0], bad[2]);
    assertTrue(bad[2].contains("--concept colour: unknown 'pink'"), bad[2]);
  }

  /**
   * eval on the bundled model, a few prompts at 4 steps: the summary, the per-shape line of the
   * one-object prompts, the split by object count and report.json with all of them (the scores
   * themselves are BundledModelTest's).
   */
  @Test
  void evalReportsPerAttributeAndPerShape() throws Exception {
    Path model = WORLD;
    Path out = dir.resolve("eval");
    String[] r =
        run(
            "eval",
            "--model",
            model.toString(),
            "--prompts",
            "12",
            "--steps",
            "4",
            "--out",
            out.toString());
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("shape right per asked shape (one-object prompts): "), r[1]);
    Matcher m = Pattern.compile("(circle|square|triangle|star|heart) (\\d+)/(\\d+)").matcher(r[1]);
    int asked = 0;
    while (m.find()) {
      assertTrue(Integer.parseInt(m.group(2)) <= Integer.parseInt(m.group(3)), m.group());
      asked += Integer.parseInt(m.group(3));
    }
    assertTrue(asked >= 1 && asked <= 12, r[1]);
    assertTrue(
        r[1].contains("one object: shape ")
            && r[1].contains("two objects: ")
            && r[1].contains("one colour for both where two were asked: "),
        r[1]);
    String json = Files.readString(out.resolve("report.json"));
    assertTrue(
        json.contains("\"one_object_shapes\"")
            && json.contains("\"by_object_count\"")
            && json.contains("\"colours_merged\"")
            && json.contains("\"per_prompt\""),
        json.substring(0, Math.min(400, json.length())));
    assertTrue(Files.isRegularFile(out.resolve("grid.png")));
  }

  /**
   * eval --regions --confine with the demo concept: the report records the margin; a two-object
   * prompt with an unplaced object gets no region and is drawn exactly as without the option, one
   * with both placed is not; one object with no position is drawn in the centre cell with the
   * centre named, exactly as the prompt that asks for the centre.
   */
  @Test
  void evalWithConfinedRegionsChangesOnlyPositionedPrompts() throws Exception {
    Path model = WORLD;
    Path prompts = dir.resolve("regions.txt");
    Files.writeString(
        prompts,
        "a {} on the left and a blue circle\na {} on the left and a blue circle on the right\n"
            + "a large {} on a sand background\n");
    String[] common = {
      "eval",
      "--model",
      model.toString(),
      "--concept",
      model.resolve("concepts/demo/zwx.safetensors").toString(),
      "--expect",
      "shape=star,colour=red,pattern=stripes",
      "--prompts-file",
      prompts.toString(),
      "--steps",
      "4",
      "--images-per-call", // both runs draw prompt 0 alone, so its image is the same bit for bit
      "1"
    };
    List<String> plain = new ArrayList<>(List.of(common));
    plain.addAll(List.of("--out", dir.resolve("plain").toString()));
    List<String> regional = new ArrayList<>(List.of(common));
    regional.addAll(
        List.of("--regions", "0", "--confine", "--out", dir.resolve("regional").toString()));
    String[] a = run(plain.toArray(String[]::new));
    String[] b = run(regional.toArray(String[]::new));
    assertEquals("0", a[0], a[2]);
    assertEquals("0", b[0], b[2]);
    String ja = Files.readString(dir.resolve("plain/report.json"));
    String jb = Files.readString(dir.resolve("regional/report.json"));
    assertTrue(jb.contains("\"regions\" : 0.0") && !ja.contains("\"regions\""), jb);
    List<String> fa = found(ja);
    List<String> fb = found(jb);
    assertEquals(3, fa.size(), ja);
    assertEquals(fa.get(0), fb.get(0), "an object with no position, no regions: drawn as before");
    assertNotEquals(fa.get(1), fb.get(1), "the positioned prompt is drawn with its regions");
    assertTrue(
        jb.contains("\"drawn\" : \"a large zwx in the centre on a sand background\"")
            && !ja.contains("\"drawn\""),
        "the unplaced object is drawn named in its centre cell, and the report says so: " + jb);
    Path placed = dir.resolve("placed.txt");
    Files.writeString(
        placed,
        "a {} on the left and a blue circle\na {} on the left and a blue circle on the right\n"
            + "a large {} in the centre on a sand background\n");
    List<String> centre = new ArrayList<>(List.of(common));
    centre.set(centre.indexOf(prompts.toString()), placed.toString());
    centre.addAll(
        List.of("--regions", "0", "--confine", "--out", dir.resolve("centre").toString()));
    String[] d = run(centre.toArray(String[]::new));
    assertEquals("0", d[0], d[2]);
    assertArrayEquals(
        Files.readAllBytes(dir.resolve("regional/grid.png")),
        Files.readAllBytes(dir.resolve("centre/grid.png")),
        "the unplaced prompt is drawn as the one that asks for the centre, bit for bit");
    // Guided through the superclass prompts (each region's its own): scale 0 draws the superclass.
    List<String> guided = new ArrayList<>(List.of(common));
    guided.addAll(
        List.of(
            "--regions",
            "0",
            "--confine",
            "--concept-guidance",
            "0",
            "--out",
            dir.resolve("guided").toString()));
    String[] c = run(guided.toArray(String[]::new));
    assertEquals("0", c[0], c[2]);
    String jc = Files.readString(dir.resolve("guided/report.json"));
    assertTrue(jc.contains("\"concept_guidance\" : 0.0") && jc.contains("\"regions\" : 0.0"), jc);
    assertTrue(
        !Arrays.equals(
            Files.readAllBytes(dir.resolve("regional/grid.png")),
            Files.readAllBytes(dir.resolve("guided/grid.png"))),
        "guidance toward the regions' superclass prompts draws other images");
  }

  /** The evaluator's reading of each image, in prompt order, from a report.json. */
  private static List<String> found(String json) {
    List<String> found = new ArrayList<>();
    Matcher m = Pattern.compile("\"found\" : \"([^\"]*)\"").matcher(json);
    while (m.find()) {
      found.add(m.group(1));
    }
    return found;
  }

  /** text-contrast on two models side by side: one row per attribute, one column per model. */
  @Test
  void textContrastPrintsOneRowPerAttribute() {
    Path model = WORLD;
    String[] r = run("text-contrast", "--model", model + "," + model);
    assertEquals("0", r[0], r[2]);
    String[] lines = r[1].split("\\R");
    assertTrue(lines[0].startsWith("attribute") && lines[0].contains("model 2"), r[1]);
    assertTrue(lines[1].startsWith("column") && lines[6].startsWith("background"), r[1]);
    String[] cells = lines[1].trim().split("\\s+");
    assertEquals(cells[1], cells[2], "the same model twice gives the same figure: " + lines[1]);
  }

  /**
   * bench-train on the bundled model, two tiny steps: one line per phase with its median and share
   * of the step, the step's FLOPs, and a clear error for a bad count.
   */
  @Test
  void benchTrainTimesEachPhaseOfATrainingStep() {
    Path model = WORLD;
    String[] r = run("bench-train", "--model", model.toString(), "--batch", "2", "--repeats", "2");
    assertEquals("0", r[0], r[2]);
    for (String phase :
        new String[] {"inputs", "forward", "backward", "adamw", "average", "step"}) {
      assertTrue(
          Pattern.compile(
                  "(?m)^"
                      + phase
                      + " +median \\d+\\.\\d+ ms .*n=2\\), +\\d+\\.\\d% of the median step$")
              .matcher(r[1])
              .find(),
          phase + " in " + r[1]);
    }
    Matcher flops = Pattern.compile("forward: (\\d+\\.\\d+) GFLOP").matcher(r[1]);
    assertTrue(flops.find() && Double.parseDouble(flops.group(1)) > 0, r[1]);
    assertTrue(
        r[1].contains("354 parameter tensors"),
        "text encoder + UNet of the bundled model: " + r[1]);
    String[] bad = run("bench-train", "--model", model.toString(), "--repeats", "0");
    assertEquals("1", bad[0]);
    assertTrue(bad[2].contains("--repeats must be at least 1"), bad[2]);
  }

  /**
   * bench-gemm with small shapes and the tiny UNet: one table row per shape with the engine's rate,
   * the UNet step's GFLOP/s and its ratio to the best GEMM rate, once per attention slicing asked
   * for; bad shapes are a clear error.
   */
  @Test
  void benchGemmPrintsGemmRatesAndTheUnetStepSideBySide() {
    String[] r =
        run(
            "bench-gemm",
            "--shapes",
            "64,64,64,128,32,96",
            "--repeats",
            "1",
            "--rounds",
            "1",
            "--openblas",
            "none",
            "--sd15-unet-config",
            Path.of(MODEL, "unet", "config.json").toString(),
            "--latent",
            "8",
            "--unet-steps",
            "1",
            "--attention-slicing",
            "auto,1KiB");
    assertEquals("0", r[0], r[2]);
    assertTrue(
        java.util.regex.Pattern.compile("(?m)^64x64x64 +\\d+\\.\\d +- +-$").matcher(r[1]).find(),
        r[1]);
    assertTrue(
        java.util.regex.Pattern.compile("(?m)^128x32x96 +\\d+\\.\\d ").matcher(r[1]).find(), r[1]);
    for (String slicing : new String[] {"auto", "1KiB"}) {
      assertTrue(
          java.util.regex.Pattern.compile(
                  "latent 8x8 \\(64 px\\), attention slicing "
                      + slicing
                      + ": \\d+\\.\\d GFLOP, median \\d+\\.\\d+ s .*GFLOP/s")
              .matcher(r[1])
              .find(),
          r[1]);
    }
    assertTrue(r[1].contains("UNet step / engine's best GEMM: "), r[1]);
    String[] bad =
        run("bench-gemm", "--shapes", "64,64", "--openblas", "none", "--sd15-unet-config", "none");
    assertEquals("1", bad[0]);
    assertTrue(bad[2].contains("M,N,K triples"), bad[2]);
  }

  /** The percentage after "attribute " in a vae-check line. */
  private static double percent(String line, String attribute) {
    Matcher m = Pattern.compile(attribute + " (\\d+\\.\\d+)%").matcher(line);
    assertTrue(m.find(), attribute + " in " + line);
    return Double.parseDouble(m.group(1));
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
    String[] lock = run("eval", "--model", MODEL, "--global-lock");
    assertEquals("2", lock[0]);
    assertTrue(lock[2].contains("--global-lock needs --concept"), lock[2]);
    String[] perCall = run("eval", "--model", MODEL, "--images-per-call", "0");
    assertEquals("2", perCall[0]);
    assertTrue(
        perCall[2].contains("--images-per-call must be at least 1 (1: one image at a time), got 0"),
        perCall[2]);
    String[] margin = run("eval", "--model", MODEL, "--regions", "0.4");
    assertEquals("2", margin[0]);
    assertTrue(
        margin[2].contains("--regions 0.4: the margin must be in [0, 1/3) of the image"),
        margin[2]);
    String[] confine = run("eval", "--model", MODEL, "--confine");
    assertEquals("2", confine[0]);
    assertTrue(confine[2].contains("--confine needs --regions"), confine[2]);
    String[] guided = run("eval", "--model", MODEL, "--concept-guidance", "3");
    assertEquals("2", guided[0]);
    assertTrue(guided[2].contains("--concept-guidance needs --concept"), guided[2]);
  }

  /**
   * eval --concept-guidance with the demo concept: the report records the scale, and the images
   * move away from plain guidance's (the anchor's branch is drawn; its closed forms are
   * StableDiffusionPipelineTest's).
   */
  @Test
  void evalWithConceptGuidanceRecordsItAndChangesTheImages() throws Exception {
    List<String> common =
        List.of(
            "eval",
            "--model",
            WORLD.toString(),
            "--concept",
            WORLD.resolve("concepts/demo/zwx.safetensors").toString(),
            "--expect",
            "shape=star,colour=red,pattern=stripes",
            "--prompts",
            "2",
            "--steps",
            "4");
    List<String> plain = new ArrayList<>(common);
    plain.addAll(List.of("--out", dir.resolve("plain").toString()));
    List<String> anchored = new ArrayList<>(common);
    anchored.addAll(List.of("--concept-guidance", "0", "--out", dir.resolve("cg").toString()));
    String[] a = run(plain.toArray(String[]::new));
    String[] b = run(anchored.toArray(String[]::new));
    assertEquals("0", a[0], a[2]);
    assertEquals("0", b[0], b[2]);
    String jb = Files.readString(dir.resolve("cg/report.json"));
    assertTrue(jb.contains("\"concept_guidance\" : 0.0"), jb.substring(0, 600));
    assertTrue(
        !Arrays.equals(
            Files.readAllBytes(dir.resolve("plain/grid.png")),
            Files.readAllBytes(dir.resolve("cg/grid.png"))),
        "guidance toward the superclass prompt alone draws other images");
  }

  /** The user's mistakes each give one line naming the option and the fix (issue 21). */
  @Test
  void missingConceptGpuAndBusyPortAreOneLineErrorsNamingTheFix() throws Exception {
    Path concept = dir.resolve("no-such-concept.safetensors");
    String[] c = run("generate", "--model", MODEL, "--prompt", "x", "--concept", concept + ":0.7");
    assertEquals("1", c[0]);
    assertEquals(1, c[2].strip().lines().count(), c[2]);
    assertTrue(
        c[2].contains("--concept " + concept + ": no such file")
            && c[2].contains("perfusion train"),
        c[2]);

    // No machine has a hundredth GPU, so this fails everywhere, before any native call on the
    // device.
    String[] g = run("generate", "--model", MODEL, "--prompt", "x", "--device", "gpu:99");
    assertEquals("1", g[0]);
    assertEquals(1, g[2].strip().lines().count(), g[2]);
    assertTrue(g[2].contains("device 'gpu:99'") && g[2].contains("use cpu"), g[2]);

    Path model = WORLD;
    try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      int port = busy.getLocalPort();
      String[] d =
          run("demo", "--model", model.toString(), "--port", Integer.toString(port), "--exit");
      assertEquals("1", d[0], d[1] + d[2]);
      assertTrue(
          d[2].contains("--port " + port + ": 127.0.0.1:" + port + " is already in use")
              && d[2].contains("--port N"),
          d[2]);
      assertTrue(
          !d[1].contains("starting Kafka"),
          "the busy port is found before the stack starts: " + d[1]);
    }
  }
}
