package org.perfusionjobs.engine.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTextConfig;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;
import org.perfusionjobs.engine.scheduler.NoiseSchedule;
import org.perfusionjobs.engine.scheduler.SchedulerConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionModel;
import org.perfusionjobs.testdata.TestData;

/**
 * Joint text encoder + UNet training on the sd-tiny-ref configs (random weights, not the reference
 * ones): 8 fixed random latents paired with 8 captions.
 */
class DiffusionTrainerTest {
  static final int N = 8;
  static final int BATCH = 4;
  static final int STEPS = 60;
  static final int LATENT = 8;
  static final List<String> CAPTIONS =
      List.of(
          "a red circle",
          "a blue square",
          "a green star at the top",
          "a small yellow heart",
          "a big red triangle left",
          "a photo of a blue circle",
          "a white star, small, bottom",
          "a black square right of a red circle");
  static Path ref;
  @TempDir Path dir;

  @BeforeAll
  static void locate() {
    ref = TestData.sdTinyRef();
  }

  static ClipTextModel textEncoder(NDManager weights, long seed) throws Exception {
    ClipTextModel te =
        new ClipTextModel(
            Configs.read(ref.resolve("text_encoder/config.json"), ClipTextConfig.class));
    te.initRandom(weights, DataType.FLOAT32, seed);
    return te;
  }

  static UNet2DConditionModel unet(NDManager weights, long seed) throws Exception {
    UNet2DConditionModel u =
        new UNet2DConditionModel(
            Configs.read(ref.resolve("unet/config.json"), UNet2DConditionConfig.class));
    u.initRandom(weights, DataType.FLOAT32, seed);
    return u;
  }

  static NDArray batch(NDArray all, int step) {
    int start = (step * BATCH) % N;
    return all.get(start + ":" + (start + BATCH));
  }

  static List<String> captions(int step) {
    int start = (step * BATCH) % N;
    return CAPTIONS.subList(start, start + BATCH);
  }

  static Map<String, float[]> snapshot(Map<String, Parameter> params) {
    Map<String, float[]> out = new HashMap<>();
    params.forEach((k, p) -> out.put(k, p.get().toFloatArray()));
    return out;
  }

  @Test
  void jointTrainingLowersLossNoLeakAndSavedFoldersLoad() throws Exception {
    NoiseSchedule schedule = NoiseSchedule.of(SchedulerConfig.stableDiffusionV1());
    try (NDManager weights = NDManager.newBaseManager();
        NDManager data = NDManager.newBaseManager();
        ClipTokenizer tok = ClipTokenizer.load(ref.resolve("tokenizer"))) {
      ClipTextModel te = textEncoder(weights, 1);
      UNet2DConditionModel un = unet(weights, 2);
      Map<String, float[]> teBefore = snapshot(te.namedParameters());
      NDArray latents = new NoiseGenerator(99).normal(new Shape(N, 4, LATENT, LATENT), data);
      List<Float> losses = new ArrayList<>();
      List<Integer> counts = new ArrayList<>();
      int dropped = 0;
      long start;
      long warm = 0;
      DiffusionTrainer.Options opts = DiffusionTrainer.Options.defaults().withLearningRate(2e-3f);
      try (DiffusionTrainer trainer = new DiffusionTrainer(te, tok, un, schedule, opts)) {
        start = System.nanoTime();
        for (int s = 0; s < STEPS; s++) {
          if (s == 5) {
            warm = System.nanoTime();
          }
          DiffusionTrainer.StepLoss l = trainer.step(batch(latents, s), captions(s), 1000 + s);
          assertTrue(Float.isFinite(l.loss()), "step " + s + ": " + l);
          losses.add(l.loss());
          dropped += l.droppedCaptions();
          counts.add(weights.getManagedArrays().size());
        }
        assertEquals(STEPS, trainer.steps());
        assertEquals(STEPS, trainer.optimizer().steps());
      }
      long end = System.nanoTime();
      double first =
          losses.subList(0, 10).stream().mapToDouble(Float::doubleValue).average().orElseThrow();
      double last =
          losses.subList(STEPS - 10, STEPS).stream()
              .mapToDouble(Float::doubleValue)
              .average()
              .orElseThrow();
      System.out.printf(
          "DiffusionTrainerTest: %d steps (batch %d, latents 4x%dx%d), %.1f ms/step overall, %.1f"
              + " ms/step after 5 warm-up steps; eps MSE first10 %.4f last10 %.4f ratio %.3f;"
              + " captions dropped %d/%d; weight arrays %s%n",
          STEPS,
          BATCH,
          LATENT,
          LATENT,
          (end - start) / 1e6 / STEPS,
          (end - warm) / 1e6 / (STEPS - 5),
          first,
          last,
          last / first,
          dropped,
          STEPS * BATCH,
          counts.subList(0, 3) + ".." + counts.get(STEPS - 1));
      assertTrue(
          last < 0.7 * first,
          "loss should fall by 30% (measured ratio 0.415): first 10 "
              + first
              + ", last 10 "
              + last
              + "; all "
              + losses);
      assertEquals(
          counts.get(0), counts.get(STEPS - 1), "weight manager array count changed: " + counts);
      for (Parameter p : te.namedParameters().values()) {
        assertFalse(p.get().isNaN().any().getBoolean(), "NaN in " + p.name());
      }
      for (Parameter p : un.namedParameters().values()) {
        assertFalse(p.get().isNaN().any().getBoolean(), "NaN in " + p.name());
      }
      // joint mode: the text encoder was trained too
      int changed = 0;
      for (Map.Entry<String, Parameter> e : te.namedParameters().entrySet()) {
        if (!Arrays.equals(teBefore.get(e.getKey()), e.getValue().get().toFloatArray())) {
          changed++;
        }
      }
      assertEquals(
          te.namedParameters().size(),
          changed,
          "every text encoder weight should move in joint mode");

      try (DiffusionTrainer saver = new DiffusionTrainer(te, tok, un, schedule, opts)) {
        saver.save(dir);
      }
      try (NDManager loadedManager = NDManager.newBaseManager()) {
        ClipTextModel te2 =
            ClipTextModel.load(
                dir.resolve("text_encoder"), loadedManager, DataType.FLOAT32, Device.cpu());
        UNet2DConditionModel un2 =
            UNet2DConditionModel.load(
                dir.resolve("unet"), loadedManager, DataType.FLOAT32, Device.cpu());
        assertEquals(te.config(), te2.config());
        assertEquals(un.config(), un2.config());
        NDArray ids = tok.encode(CAPTIONS.subList(0, BATCH), data);
        NDArray x = latents.get("0:" + BATCH);
        NDArray t = data.create(new long[] {0, 250, 500, 999});
        NDArray a = un.forward(x, t, Conditioning.of(te.forward(ids)));
        NDArray b = un2.forward(x, t, Conditioning.of(te2.forward(ids)));
        float maxDiff = a.sub(b).abs().max().getFloat();
        System.out.printf(
            "DiffusionTrainerTest: saved/loaded UNet output max |diff| %.3g%n", maxDiff);
        assertTrue(maxDiff < 1e-5f, "loaded model predicts differently: max |diff| " + maxDiff);
      }
    }
  }

  @Test
  void frozenTextEncoderStaysBitIdentical() throws Exception {
    NoiseSchedule schedule = NoiseSchedule.of(SchedulerConfig.stableDiffusionV1());
    try (NDManager weights = NDManager.newBaseManager();
        NDManager data = NDManager.newBaseManager();
        ClipTokenizer tok = ClipTokenizer.load(ref.resolve("tokenizer"))) {
      ClipTextModel te = textEncoder(weights, 3);
      UNet2DConditionModel un = unet(weights, 4);
      Map<String, float[]> teBefore = snapshot(te.namedParameters());
      Map<String, float[]> unBefore = snapshot(un.namedParameters());
      NDArray latents = new NoiseGenerator(7).normal(new Shape(N, 4, LATENT, LATENT), data);
      DiffusionTrainer.Options opts =
          DiffusionTrainer.Options.defaults().withLearningRate(2e-3f).withFrozenTextEncoder(true);
      try (DiffusionTrainer trainer = new DiffusionTrainer(te, tok, un, schedule, opts)) {
        assertEquals(un.namedParameters().size(), trainer.optimizer().parameters().size());
        for (int s = 0; s < 4; s++) {
          assertTrue(Float.isFinite(trainer.step(batch(latents, s), captions(s), s).loss()));
        }
      }
      for (Map.Entry<String, Parameter> e : te.namedParameters().entrySet()) {
        assertArrayEquals(
            teBefore.get(e.getKey()),
            e.getValue().get().toFloatArray(),
            0f,
            "frozen text encoder weight changed: " + e.getKey());
        assertFalse(
            e.getValue().get().hasGradient(),
            "frozen text encoder weight has a gradient: " + e.getKey());
      }
      int changed = 0;
      for (Map.Entry<String, Parameter> e : un.namedParameters().entrySet()) {
        if (!Arrays.equals(unBefore.get(e.getKey()), e.getValue().get().toFloatArray())) {
          changed++;
        }
      }
      assertTrue(
          changed > un.namedParameters().size() / 2,
          "UNet weights should move: " + changed + " of " + un.namedParameters().size());
    }
  }

  /** Weights of the text encoder and the UNet before and after one training step. */
  private record FirstStep(
      Map<String, float[]> teBefore, Map<String, float[]> teAfter, Map<String, float[]> unAfter) {}

  private FirstStep firstStep(float textRateScale) throws Exception {
    NoiseSchedule schedule = NoiseSchedule.of(SchedulerConfig.stableDiffusionV1());
    try (NDManager weights = NDManager.newBaseManager();
        NDManager data = NDManager.newBaseManager();
        ClipTokenizer tok = ClipTokenizer.load(ref.resolve("tokenizer"))) {
      ClipTextModel te = textEncoder(weights, 11);
      UNet2DConditionModel un = unet(weights, 12);
      Map<String, float[]> teBefore = snapshot(te.namedParameters());
      NDArray latents = new NoiseGenerator(9).normal(new Shape(N, 4, LATENT, LATENT), data);
      DiffusionTrainer.Options opts =
          DiffusionTrainer.Options.defaults()
              .withLearningRate(1e-3f)
              .withCaptionDropout(0f)
              .withTextLearningRateScale(textRateScale);
      try (DiffusionTrainer trainer = new DiffusionTrainer(te, tok, un, schedule, opts)) {
        trainer.step(batch(latents, 0), captions(0), 0);
      }
      return new FirstStep(
          teBefore, snapshot(te.namedParameters()), snapshot(un.namedParameters()));
    }
  }

  /**
   * The first AdamW step moves a weight by lr * scale * (wd * p + m / (sqrt(v) + eps)), and from
   * identical weights and data the gradients are identical; so a text rate scale of 0.1 must move
   * every text encoder weight by exactly 0.1 times as much, and every UNet weight the same.
   */
  @Test
  void textLearningRateScaleScalesOnlyTheTextEncodersUpdate() throws Exception {
    FirstStep full = firstStep(1f);
    FirstStep tenth = firstStep(0.1f);
    double teRatioErr = 0;
    double teMoved = 0;
    for (String key : full.teBefore().keySet()) {
      float[] p0 = full.teBefore().get(key);
      assertArrayEquals(
          p0,
          tenth.teBefore().get(key),
          0f,
          "the two runs must start from the same weights: " + key);
      for (int i = 0; i < p0.length; i++) {
        double delta = full.teAfter().get(key)[i] - p0[i];
        double scaled = tenth.teAfter().get(key)[i] - p0[i];
        teMoved = Math.max(teMoved, Math.abs(delta));
        // float32 rounding of p + delta (|p| < 1) bounds the error by about 1e-7 absolute
        teRatioErr = Math.max(teRatioErr, Math.abs(scaled - 0.1 * delta));
      }
    }
    double unDiff = 0;
    for (String key : full.unAfter().keySet()) {
      float[] a = full.unAfter().get(key);
      float[] b = tenth.unAfter().get(key);
      for (int i = 0; i < a.length; i++) {
        unDiff = Math.max(unDiff, Math.abs(a[i] - b[i]));
      }
    }
    System.out.printf(
        "DiffusionTrainerTest: text rate scale 0.1: max |delta - 0.1 delta_full| %.3g (max"
            + " |delta_full| %.3g), UNet max |diff| %.3g%n",
        teRatioErr, teMoved, unDiff);
    assertTrue(
        teMoved > 5e-4, "the text encoder should move by about the learning rate: " + teMoved);
    assertTrue(
        teRatioErr < 1e-6, "text encoder update is not 0.1 times the full one: " + teRatioErr);
    assertTrue(
        unDiff < 1e-6, "the UNet's update should not depend on the text rate scale: " + unDiff);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> DiffusionTrainer.Options.defaults().withTextLearningRateScale(0f));
    assertTrue(e.getMessage().contains("text lr scale 0.0 (in (0, 1])"), e.getMessage());
  }

  @Test
  void timestepWeightIsOnePlusInverseSnrCapped() {
    NoiseSchedule schedule = NoiseSchedule.of(SchedulerConfig.stableDiffusionV1());
    // 1 + (1 - acp) / acp = 1 / acp: the (SNR + 1) / SNR factor that turns SNR * x0 error into (SNR
    // + 1) * x0 error.
    for (int t : new int[] {0, 100, 500, 700}) {
      assertEquals(
          1 / schedule.alphaCumprod(t),
          DiffusionTrainer.timestepWeight(schedule, t, 1e6f),
          1e-3 / schedule.alphaCumprod(t),
          "t " + t);
    }
    assertEquals(1.0, DiffusionTrainer.timestepWeight(schedule, 0, 20f), 2e-3); // SNR 1175 at t = 0
    assertEquals(
        20f,
        DiffusionTrainer.timestepWeight(schedule, 900, 20f),
        0f); // 1/acp = 70.7 at t = 900, capped
    assertEquals(1f, DiffusionTrainer.timestepWeight(schedule, 900, 1f), 0f);
    float prev = 0;
    for (int t = 0; t < schedule.numTrainTimesteps(); t += 37) {
      float w = DiffusionTrainer.timestepWeight(schedule, t, 20f);
      assertTrue(w >= prev && w >= 1 && w <= 20, "t " + t + ": " + w);
      prev = w;
    }
    assertThrowsIllegal(
        () -> DiffusionTrainer.Options.defaults().withHighNoiseWeightCap(0.5f),
        "high-noise weight cap 0.5");
  }

  /**
   * The weighting changes the objective only: same weights and seed give the same plain MSE; the
   * weighted one lies within [MSE, cap x MSE].
   */
  @Test
  void weightedStepKeepsThePlainMseAndWeighsWithinTheCap() throws Exception {
    NoiseSchedule schedule = NoiseSchedule.of(SchedulerConfig.stableDiffusionV1());
    float[] plain = new float[2];
    float[] weighted = new float[2];
    float[] caps = {1f, 20f};
    for (int i = 0; i < 2; i++) {
      try (NDManager weights = NDManager.newBaseManager();
          NDManager data = NDManager.newBaseManager();
          ClipTokenizer tok = ClipTokenizer.load(ref.resolve("tokenizer"))) {
        NDArray latents = new NoiseGenerator(5).normal(new Shape(N, 4, LATENT, LATENT), data);
        DiffusionTrainer.Options opts =
            DiffusionTrainer.Options.defaults().withHighNoiseWeightCap(caps[i]);
        try (DiffusionTrainer trainer =
            new DiffusionTrainer(textEncoder(weights, 5), tok, unet(weights, 6), schedule, opts)) {
          DiffusionTrainer.StepLoss l = trainer.step(batch(latents, 0), captions(0), 42);
          plain[i] = l.loss();
          weighted[i] = l.weightedLoss();
        }
      }
    }
    assertEquals(plain[0], plain[1], 1e-6f * plain[0]);
    assertEquals(plain[0], weighted[0], 1e-6f * plain[0]);
    assertTrue(
        weighted[1] > plain[1] && weighted[1] <= 20 * plain[1],
        "weighted " + weighted[1] + ", plain " + plain[1]);
  }

  /**
   * Per-pixel weights are normalised per sample: uniform weights (any value) give the null-weight
   * step to float precision, losses and updated parameters alike; weights focused on one corner
   * change the objective but never the plain MSE; a wrong shape is refused with the shapes named.
   */
  @Test
  void pixelWeightsMoveTheLossNotItsScale() throws Exception {
    NoiseSchedule schedule = NoiseSchedule.of(SchedulerConfig.stableDiffusionV1());
    float[] focus = new float[BATCH * LATENT * LATENT];
    Arrays.fill(focus, 1f);
    for (int b = 0; b < BATCH; b++) {
      focus[b * LATENT * LATENT] = 500f; // the top-left latent pixel of every sample
    }
    float[][] weightValues = {null, uniform(3f), focus};
    DiffusionTrainer.StepLoss[] losses = new DiffusionTrainer.StepLoss[3];
    List<Map<String, float[]>> after = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      try (NDManager weights = NDManager.newBaseManager();
          NDManager data = NDManager.newBaseManager();
          ClipTokenizer tok = ClipTokenizer.load(ref.resolve("tokenizer"))) {
        NDArray latents = new NoiseGenerator(5).normal(new Shape(N, 4, LATENT, LATENT), data);
        NDArray w =
            weightValues[i] == null
                ? null
                : data.create(weightValues[i], new Shape(BATCH, 1, LATENT, LATENT));
        UNet2DConditionModel u = unet(weights, 6);
        DiffusionTrainer.Options opts =
            DiffusionTrainer.Options.defaults().withHighNoiseWeightCap(1f);
        try (DiffusionTrainer trainer =
            new DiffusionTrainer(textEncoder(weights, 5), tok, u, schedule, opts)) {
          losses[i] = trainer.step(batch(latents, 0), captions(0), 42, w);
          after.add(snapshot(u.namedParameters()));
          if (i == 0) {
            NDArray wrong = data.ones(new Shape(BATCH, 1, LATENT / 2, LATENT / 2));
            assertThrowsIllegal(
                () -> trainer.step(batch(latents, 1), captions(1), 43, wrong), "(4, 1, 4, 4)");
          }
        }
      }
    }
    assertEquals(losses[0].loss(), losses[0].weightedLoss(), 1e-6f * losses[0].loss());
    assertEquals(losses[0].weightedLoss(), losses[1].weightedLoss(), 1e-5f * losses[0].loss());
    for (String k : after.get(0).keySet()) {
      float[] a = after.get(0).get(k);
      float[] b = after.get(1).get(k);
      for (int j = 0; j < a.length; j++) {
        assertEquals(a[j], b[j], 1e-6f, k + "[" + j + "]");
      }
    }
    assertEquals(losses[0].loss(), losses[2].loss(), 1e-6f * losses[0].loss());
    assertTrue(
        Math.abs(losses[2].weightedLoss() - losses[0].weightedLoss()) > 1e-3f * losses[0].loss(),
        "focused weights should change the objective: " + losses[2] + " vs " + losses[0]);
  }

  private static float[] uniform(float v) {
    float[] out = new float[BATCH * LATENT * LATENT];
    Arrays.fill(out, v);
    return out;
  }

  private static void assertThrowsIllegal(Executable e, String message) {
    IllegalArgumentException x = Assertions.assertThrows(IllegalArgumentException.class, e);
    assertTrue(x.getMessage().contains(message), x.getMessage());
  }
}
