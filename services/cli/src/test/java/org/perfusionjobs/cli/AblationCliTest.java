package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.perfusionjobs.cli.CliRun.run;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.perfusion.PerfusionAblation;
import org.perfusionjobs.engine.perfusion.TrainingConfig;

/**
 * {@code train --ablation} (issue 18 item 6) as a user runs it on the bundled world model, two
 * steps of one image: the file records the ablation, {@code concept-gates} applies it when it loads
 * the file, and misplaced uses are one-line errors.
 */
class AblationCliTest {
  @TempDir Path dir;

  /** no-gate: recorded in the file; every gate concept-gates reports, word and elsewhere, is 1. */
  @Test
  void noGateIsRecordedAndAppliedWhenTheFileIsLoaded() throws Exception {
    Path file = dir.resolve("zwx.safetensors");
    String[] t =
        BaselinesCliTest.train(
            BaselinesCliTest.WORLD.toString(), "perfusion", file, "--ablation", "no-gate");
    assertEquals("0", t[0], t[2]);
    assertTrue(t[2].contains("method perfusion (ablation no-gate): file "), t[2]);
    assertEquals(PerfusionAblation.NO_GATE, ConceptFile.read(file).ablation());
    Path prompts = dir.resolve("prompts.txt");
    Files.writeString(prompts, "a zwx\na zwx on the left\n");
    String[] g =
        run(
            "concept-gates",
            "--model",
            BaselinesCliTest.WORLD.toString(),
            "--concept",
            file.toString(),
            "--prompts-file",
            prompts.toString(),
            "--beta",
            "0.7",
            "--json");
    assertEquals("0", g[0], g[2]);
    String[] lines = g[1].strip().split("\n");
    JsonNode json = Configs.json().readTree(lines[lines.length - 1]);
    assertEquals(0.7, json.get("beta").asDouble(), 1e-6);
    assertEquals(2, json.get("prompts").size());
    for (JsonNode p : json.get("prompts")) {
      assertEquals(1.0, p.get("concept").asDouble(), 0.0, p.toString());
      assertEquals(1.0, p.get("other").asDouble(), 0.0, p.toString());
    }

    // The paper's default: no ablation recorded, and the gate stays a gate.
    Path paper = dir.resolve("paper.safetensors");
    assertEquals(
        "0", BaselinesCliTest.train(BaselinesCliTest.WORLD.toString(), "perfusion", paper)[0]);
    assertFalse(ConceptFile.read(paper).trainingSettings().containsKey("ablation"));
  }

  @Test
  void misplacedAblationsAreOneLineErrors() {
    Path out = dir.resolve("x.safetensors");
    String tiny = BaselinesCliTest.TINY;
    BaselinesCliTest.assertOneLine(
        BaselinesCliTest.train(tiny, "lora", out, "--ablation", "no-gate"),
        "error: --ablation is Perfusion's (--method perfusion), not lora's");
    BaselinesCliTest.assertOneLine(
        BaselinesCliTest.train(tiny, "perfusion", out, "--ablation", "no-keys"),
        "error: unknown Perfusion ablation 'no-keys'; known: none, no-key-lock, no-gate, no-cinv");
    BaselinesCliTest.assertOneLine(
        BaselinesCliTest.train(
            tiny, "perfusion", out, "--ablation", "no-key-lock", "--key-rate", "0.1"),
        "error: --key-rate conflicts with --ablation no-key-lock, which learns K at the V targets'"
            + " rate; give one of the two");
    BaselinesCliTest.assertOneLine(
        BaselinesCliTest.train(tiny, "perfusion", out, "--key-rate", "1.5"),
        "error: --key-rate 1.5: expected a number in 0..1 (0: the paper's locked key, 0.1: the"
            + " softly locked key)");
    BaselinesCliTest.assertOneLine(
        BaselinesCliTest.train(tiny, "dreambooth", out, "--key-rate", "0.1"),
        "error: --captions per-image, --gate-scope, --embedding-norm-cap, --background-weight,"
            + " --key-rate, --train-beta, --train-tau and --ema-decay are Perfusion's");
    assertFalse(Files.exists(out), "nothing trained");
  }

  /**
   * The softly locked key (beyond the paper): {@code train --key-rate 0.1} records it in the file,
   * says it trains K and V, and its K targets differ from the paper's run of the same seed, whose
   * are the locked key.
   */
  @Test
  void aSoftlyLockedKeyIsRecordedAndItsKeysLearn() throws Exception {
    Path soft = dir.resolve("soft.safetensors");
    String[] t =
        BaselinesCliTest.train(
            BaselinesCliTest.WORLD.toString(), "perfusion", soft, "--key-rate", "0.1");
    assertEquals("0", t[0], t[2]);
    assertTrue(t[2].contains("method perfusion (key rate 0.1): file "), t[2]);
    assertTrue(t[2].contains("(K and V targets + embedding)"), t[2]);
    Concept c = ConceptFile.read(soft);
    assertEquals("0.1", c.trainingSettings().get(TrainingConfig.KEY_RATE));
    Path paper = dir.resolve("paper.safetensors");
    assertEquals(
        "0", BaselinesCliTest.train(BaselinesCliTest.WORLD.toString(), "perfusion", paper)[0]);
    Concept locked = ConceptFile.read(paper);
    assertFalse(locked.trainingSettings().containsKey(TrainingConfig.KEY_RATE));
    for (String layer : locked.keyTargets().keySet()) {
      assertFalse(
          Arrays.equals(locked.keyTargets().get(layer), c.keyTargets().get(layer)),
          "K target of " + layer + " must have moved");
    }
  }
}
