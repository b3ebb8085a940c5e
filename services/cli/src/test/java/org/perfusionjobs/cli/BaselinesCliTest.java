package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.perfusionjobs.cli.CliRun.run;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.SafetensorsWriter;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.personalization.BaselineConceptFile;
import org.perfusionjobs.engine.personalization.Personalization;
import org.perfusionjobs.testdata.TestData;

/**
 * {@code train --method M}, then {@code generate --concept FILE} and {@code eval --concept FILE},
 * as a user runs them, at tiny settings (two steps of one image): exit codes, the file's method,
 * what train reports, and the one-line errors of a wrong method or option.
 */
class BaselinesCliTest {
  @TempDir Path dir;

  static final String TINY = TestData.sdTinyRef().toString();
  static final Path WORLD =
      Path.of(System.getProperty("perfusion.models", "../../models"), "world-v1").toAbsolutePath();
  static final String IMAGES = WORLD.resolve("concepts/demo").toString();

  static String[] train(String model, String method, Path out, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "train",
                "--method",
                method,
                "--model",
                model,
                "--images",
                IMAGES,
                "--word",
                "zwx",
                "--superclass",
                "star",
                "--steps",
                "2",
                "--batch",
                "1",
                "--accumulation",
                "1",
                "--out",
                out.toString()));
    args.addAll(Arrays.asList(extra));
    return run(args.toArray(String[]::new));
  }

  /**
   * Each baseline trains, says what it cost (file size, time, trained parameters) and writes a file
   * that names its method; generate loads it and writes an image (LoRA with --scale).
   */
  @ParameterizedTest
  @ValueSource(strings = {"textual-inversion", "custom-diffusion", "lora", "dreambooth"})
  void trainWritesAFileOfItsMethodThatGenerateLoads(String method) throws Exception {
    Path file = dir.resolve(method + ".safetensors");
    String[] extra =
        switch (method) {
          case "lora" -> new String[] {"--rank", "2"};
          case "dreambooth" -> new String[] {"--class-images", "1", "--class-image-steps", "2"};
          default -> new String[0];
        };
    String[] t = train(TINY, method, file, extra);
    assertEquals("0", t[0], t[2]);
    assertEquals(file.toString(), t[1].strip());
    assertEquals(method, Personalization.methodOf(file));
    long floats = BaselineConceptFile.read(file).floatCount();
    assertTrue(
        t[2].contains("method " + method + ": file " + Files.size(file) + " bytes, training ")
            && t[2].contains(", " + floats + " trained parameters"),
        t[2]);
    if (method.equals("lora")) {
      assertEquals("2", BaselineConceptFile.read(file).trainingSettings().get("rank"));
    }
    if (method.equals("dreambooth")) {
      assertTrue(t[2].contains("drawing 1 class images"), t[2]);
    }
    Path png = dir.resolve(method + ".png");
    List<String> gen =
        new ArrayList<>(
            List.of(
                "generate",
                "--model",
                TINY,
                "--prompt",
                "a photo of a zwx",
                "--steps",
                "2",
                "--concept",
                file.toString(),
                "--out",
                png.toString()));
    if (method.equals("lora")) {
      gen.addAll(List.of("--scale", "0.5"));
    }
    String[] g = run(gen.toArray(String[]::new));
    assertEquals("0", g[0], g[2]);
    assertEquals(32, ImageIO.read(png.toFile()).getWidth());
  }

  /**
   * Perfusion's training gate, i* decay and flips: set by flags, recorded in the concept file (the
   * demo's striped star is mirror-symmetric, so flips are on unless --flip never).
   */
  @Test
  void trainingGateAndEmaDecayAreRecordedInTheFile() throws Exception {
    Path file = dir.resolve("p.safetensors");
    String[] t =
        train(
            WORLD.toString(),
            "perfusion",
            file,
            "--train-beta",
            "0.9",
            "--train-tau",
            "0.2",
            "--ema-decay",
            "0.9",
            "--flip",
            "never");
    assertEquals("0", t[0], t[2]);
    Map<String, String> s = ConceptFile.read(file).trainingSettings();
    assertEquals("0.9", s.get("train_beta"), s.toString());
    assertEquals("0.2", s.get("train_tau"), s.toString());
    assertEquals("0.9", s.get("ema_decay"), s.toString());
    assertEquals("false", s.get("random_flip"), s.toString());
    Path paper = dir.resolve("paper.safetensors");
    assertEquals("0", train(WORLD.toString(), "perfusion", paper)[0]);
    Map<String, String> d = ConceptFile.read(paper).trainingSettings();
    assertEquals(
        List.of("0.75", "0.1", "0.99", "true"),
        List.of(d.get("train_beta"), d.get("train_tau"), d.get("ema_decay"), d.get("random_flip")),
        d.toString());
  }

  /** eval of a LoRA concept at two scales: one JSON line last, a run per scale with its figures. */
  @Test
  void evalOfALoraConceptRunsOncePerScale() throws Exception {
    Path file = dir.resolve("lora.safetensors");
    String[] t = train(WORLD.toString(), "lora", file);
    assertEquals("0", t[0], t[2]);
    Path prompts = dir.resolve("prompts.txt");
    Files.writeString(prompts, "a {}\na {} on the left and a blue circle on the right\n");
    String[] r =
        run(
            "eval",
            "--model",
            WORLD.toString(),
            "--concept",
            file.toString(),
            "--expect",
            "shape=star,colour=red,pattern=stripes",
            "--prompts-file",
            prompts.toString(),
            "--scale",
            "0.5,1",
            "--steps",
            "2",
            "--json");
    assertEquals("0", r[0], r[2]);
    String[] lines = r[1].strip().split("\n");
    JsonNode json = Configs.json().readTree(lines[lines.length - 1]);
    assertEquals(2, json.get("runs").size(), lines[lines.length - 1]);
    for (int k = 0; k < 2; k++) {
      JsonNode one = json.get("runs").get(k);
      assertEquals(k == 0 ? 0.5 : 1.0, one.get("scale").asDouble(), 1e-6);
      assertEquals(2, one.get("images").asInt());
      assertFalse(one.has("beta"), one.toString());
    }
  }

  /**
   * A wrong method name, a method's option given to another, a file of an unknown method: one line
   * each, naming the fix.
   */
  @Test
  void wrongMethodsAndMisplacedOptionsAreOneLineErrors() throws Exception {
    Path out = dir.resolve("x.safetensors");
    String[] bad = train(TINY, "lorra", out);
    assertOneLine(
        bad,
        "error: --method 'lorra': unknown; known: perfusion, textual-inversion, custom-diffusion,"
            + " lora, dreambooth");
    assertOneLine(
        train(TINY, "textual-inversion", out, "--rank", "8"),
        "error: --rank is LoRA's (--method lora), not textual-inversion's");
    assertOneLine(
        train(TINY, "textual-inversion", out, "--lr", "0.01"),
        "error: --lr sets the weights' learning rate of custom-diffusion, lora and dreambooth;"
            + " textual-inversion trains only the embedding (--lr-embedding)");
    assertOneLine(
        train(TINY, "lora", out, "--ema-decay", "0.9"),
        "error: --captions per-image, --gate-scope, --embedding-norm-cap, --background-weight,"
            + " --key-rate, --train-beta, --train-tau and --ema-decay are Perfusion's");
    assertOneLine(
        train(TINY, "perfusion", out, "--ema-decay", "1"),
        "error: emaDecay must be in [0, 1), got 1.0");
    assertOneLine(
        train(TINY, "perfusion", out, "--flip", "sometimes"),
        "error: --flip 'sometimes': expected auto (the default), always or never");
    assertOneLine(
        train(TINY, "lora", out, "--class-images", "4"),
        "error: --class-images and --class-image-steps are DreamBooth's (--method dreambooth), not"
            + " lora's");
    assertFalse(Files.exists(out), "nothing trained");

    Path unknown = dir.resolve("unknown.safetensors");
    try (NDManager m = NDManager.newBaseManager()) {
      SafetensorsWriter.write(
          unknown,
          Map.of("embedding", m.zeros(new Shape(4))),
          Map.of("format", BaselineConceptFile.FORMAT, "method", "hypernetwork"));
    }
    String[] g =
        run(
            "generate",
            "--model",
            TINY,
            "--prompt",
            "a zwx",
            "--concept",
            unknown.toString(),
            "--out",
            dir.resolve("u.png").toString());
    assertOneLine(
        g,
        "error: "
            + unknown
            + ": unknown method 'hypernetwork'; known: perfusion, textual-inversion,"
            + " custom-diffusion, lora, dreambooth");

    Path ti = dir.resolve("ti.safetensors");
    assertEquals("0", train(TINY, "textual-inversion", ti)[0]);
    String[] scale =
        run(
            "generate",
            "--model",
            TINY,
            "--prompt",
            "a zwx",
            "--concept",
            ti.toString(),
            "--scale",
            "0.5",
            "--out",
            dir.resolve("s.png").toString());
    assertOneLine(scale, "error: --scale is LoRA's; zwx is a textual-inversion concept");
    String[] numbers =
        run(
            "generate",
            "--model",
            TINY,
            "--prompt",
            "a zwx",
            "--concept",
            ti + ":0.7",
            "--out",
            dir.resolve("n.png").toString());
    assertOneLine(
        numbers,
        "error: --concept "
            + ti
            + ": numbers after the file are Perfusion's beta and tau; a LoRA concept's strength is"
            + " --scale");
  }

  static void assertOneLine(String[] r, String expected) {
    assertEquals("1", r[0], r[2]);
    assertEquals(expected, r[2].strip(), r[2]);
  }
}
