package org.perfusionjobs.basemodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.Covariance;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.perfusion.PerfusionTrainer;
import org.perfusionjobs.engine.perfusion.TrainingConfig;
import org.perfusionjobs.engine.perfusion.TrainingImages;
import org.perfusionjobs.engine.perfusion.TrainingTemplates;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;

/**
 * A few steps of every stage: the folder must be a complete base model (load, generate, Perfusion
 * training).
 */
class TrainBaseTest {
  @TempDir Path dir;

  /** One tiny build, made once: the first test checks it, the fine-tuning test starts from it. */
  @TempDir static Path shared;

  private static BaseModelBuilder.Result built;
  private static String builtLog;

  private static synchronized Path tinyBuild() throws IOException {
    Path out = shared.resolve("base");
    if (built == null) {
      long t0 = System.nanoTime();
      ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
      built =
          BaseModelBuilder.build(
              out, tiny().build(), new PrintStream(logBytes, true, StandardCharsets.UTF_8));
      builtLog = logBytes.toString(StandardCharsets.UTF_8);
      System.out.print(builtLog);
      System.out.printf(
          "TrainBaseTest: build %.1f s, timings %s%n",
          (System.nanoTime() - t0) / 1e9, built.timings());
    }
    return out;
  }

  /** A few steps of every stage on a few images. */
  static BaseModelBuilder.Builder tiny() {
    return BaseModelBuilder.Settings.builder()
        .vaeSteps(10)
        .unetSteps(10)
        .batch(4)
        .seed(3)
        .trainImages(32)
        .captionsForCinv(200)
        .textPretrainSteps(5)
        .detailedCaptions(0.3);
  }

  @Test
  void tinyBuildIsACompleteBaseModel() throws Exception {
    Path out = tinyBuild();
    BaseModelBuilder.Settings s = tiny().build();
    BaseModelBuilder.Result r = built;
    assertTrue(
        builtLog.contains("unet: saved the weight average (decay 0.999, 10 updates)"),
        "the UNet's weight average is what gets saved");
    assertTrue(
        r.scalingFactor() > 0 && Float.isFinite(r.scalingFactor()),
        "scaling factor " + r.scalingFactor());
    assertTrue(
        Float.isFinite(r.lastVaeLoss()) && Float.isFinite(r.lastDiffusionLoss()), r.toString());
    assertTrue(Files.isRegularFile(out.resolve(Covariance.FILE_NAME)));
    for (String f :
        List.of(
            "model_index.json",
            "scheduler/scheduler_config.json",
            "tokenizer/vocab.json",
            "tokenizer/merges.txt",
            "text_encoder/model.safetensors",
            "unet/diffusion_pytorch_model.safetensors",
            "vae/diffusion_pytorch_model.safetensors",
            TrainingTemplates.FILE_NAME)) {
      assertTrue(Files.isRegularFile(out.resolve(f)), f + " is missing");
    }
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(out, EngineOptions.cpu())) {
      assertEquals(64, sd.defaultImageSize());
      assertEquals(BaseModelBuilder.TRAINING_TEMPLATES, PerfusionModel.of(sd).trainingTemplates());
      assertEquals(r.scalingFactor(), sd.vae().config().scalingFactor(), 1e-6f);
      assertEquals(s.widths().latentChannels(), sd.vae().config().latentChannels());
      assertEquals(s.widths().latentChannels(), sd.unet().config().inChannels());
      long g0 = System.nanoTime();
      GenerateResult g =
          sd.generate(
              GenerateRequest.builder("a red circle at the top").optSteps(4).optSeed(1).build());
      System.out.printf(
          "TrainBaseTest: generate 4 steps %.0f ms%n", (System.nanoTime() - g0) / 1e6);
      BufferedImage img = g.images().get(0);
      assertEquals(64, img.getWidth());
      assertEquals(64, img.getHeight());

      List<Sample> stars =
          new World().samples(11, 200).filter(x -> x.caption().contains("star")).limit(2).toList();
      assertEquals(2, stars.size());
      TrainingImages data =
          new TrainingImages(
              stars.stream().map(Sample::image).toList(),
              stars.stream().map(x -> x.masks().get(0)).toList());
      PerfusionTrainer trainer = PerfusionModel.of(sd).trainer();
      long p0 = System.nanoTime();
      Concept c =
          trainer.train(
              data,
              TrainingConfig.defaults("zwx", "star")
                  .withSteps(2)
                  .withBatch(1, 1)
                  .withTemplates(PerfusionModel.of(sd).trainingTemplates()),
              null,
              p -> {},
              st -> {},
              () -> false);
      System.out.printf(
          "TrainBaseTest: Perfusion 2 steps %.0f ms%n", (System.nanoTime() - p0) / 1e6);
      // The concept belongs to this folder: its base model id and the covariance the build saved
      // beside it, one V target per cross-attention layer of the layer's width, a finite loss.
      assertEquals(sd.baseModelId(), c.baseModelId());
      assertEquals(Covariance.load(out.resolve(Covariance.FILE_NAME)).hash(), c.cinvHash());
      assertEquals(sd.unet().crossAttentions().size(), c.valueTargets().size());
      for (var attn : sd.unet().crossAttentions()) {
        assertEquals(attn.toV.outFeatures, c.valueTargets().get(attn.path()).length, attn.path());
      }
      assertTrue(
          Double.isFinite(Double.parseDouble(c.trainingSettings().get("final_loss"))),
          c.trainingSettings().toString());
    }

    // A second build reuses the first one's VAE as it is: same weights, same scaling factor, no VAE
    // training.
    Path again = dir.resolve("again");
    BaseModelBuilder.Result r2 =
        BaseModelBuilder.build(
            again,
            tiny().unetSteps(2).textPretrainSteps(0).detailedCaptions(0).build(),
            BaseModelBuilder.Start.reusingVae(out),
            System.out);
    assertTrue(Float.isNaN(r2.lastVaeLoss()), "no VAE was trained: " + r2);
    assertEquals(r.scalingFactor(), r2.scalingFactor(), 0f);
    assertEquals(
        -1L,
        Files.mismatch(
            out.resolve("vae/diffusion_pytorch_model.safetensors"),
            again.resolve("vae/diffusion_pytorch_model.safetensors")));
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(again, EngineOptions.cpu())) {
      assertEquals(r.scalingFactor(), sd.vae().config().scalingFactor(), 0f);
    }
    // With no UNet step (a text-only run) the folder is still complete: the text encoder and the
    // untrained UNet are saved and it loads.
    Path textOnly = dir.resolve("text-only");
    BaseModelBuilder.build(
        textOnly,
        tiny().unetSteps(0).textPretrainSteps(3).build(),
        BaseModelBuilder.Start.reusingVae(out),
        System.out);
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(textOnly, EngineOptions.cpu())) {
      assertTrue(Files.isRegularFile(textOnly.resolve(Covariance.FILE_NAME)));
      assertEquals(s.widths().latentChannels(), sd.unet().config().inChannels());
    }
    // A reused VAE must have the latent channels the UNet is built for.
    var mismatch =
        Assertions.assertThrows(
            IllegalArgumentException.class,
            () ->
                BaseModelBuilder.build(
                    dir.resolve("mismatch"),
                    tiny()
                        .unetSteps(2)
                        .textPretrainSteps(0)
                        .detailedCaptions(0)
                        .latentChannels(s.widths().latentChannels() + 1)
                        .build(),
                    BaseModelBuilder.Start.reusingVae(out),
                    System.out));
    assertTrue(
        mismatch
            .getMessage()
            .contains(
                "its VAE has "
                    + s.widths().latentChannels()
                    + " latent channels, the settings ask for "
                    + (s.widths().latentChannels() + 1)),
        mismatch.getMessage());
  }

  /**
   * --init-from: the text encoder and UNet start from the folder's weights (no text pre-training),
   * and two AdamW steps move no weight further than two learning-rate-sized steps; a folder with
   * another tokenizer is refused.
   */
  @Test
  void fineTuningStartsFromTheFolderAndMovesItByAtMostTheOptimiserSteps() throws Exception {
    Path source = tinyBuild();
    Path tuned = dir.resolve("tuned");
    float peak = 1e-4f;
    ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    BaseModelBuilder.Result r =
        BaseModelBuilder.build(
            tuned,
            tiny()
                .vaeSteps(0)
                .unetSteps(2)
                .unetLearningRate(peak)
                .patterns(List.of(Pattern.DOTS))
                .stripedFraction(0.5)
                .build(),
            BaseModelBuilder.Start.fineTuning(source),
            new PrintStream(logBytes, true, StandardCharsets.UTF_8));
    String log = logBytes.toString(StandardCharsets.UTF_8);
    assertTrue(log.contains("no text pre-training"), log);
    assertTrue(Float.isNaN(r.lastVaeLoss()), "with no VAE step the folder's VAE is kept: " + r);
    assertEquals(
        -1L,
        Files.mismatch(
            source.resolve("vae/diffusion_pytorch_model.safetensors"),
            tuned.resolve("vae/diffusion_pytorch_model.safetensors")));
    // No step runs above the peak rate, and an AdamW step moves a weight by at most its rate times
    // |m / sqrt(v)| (<= 1.0013 in the first two steps with betas 0.9 and 0.999, by Cauchy-Schwarz)
    // plus weight decay's rate * decay * |w|: 1.5 x covers that share. The saved weight average
    // lies between the start and the trained weights, so it moved no further.
    double bound = 1.5 * 2 * peak;
    try (StableDiffusionPipeline a = StableDiffusionPipeline.load(source, EngineOptions.cpu());
        StableDiffusionPipeline b = StableDiffusionPipeline.load(tuned, EngineOptions.cpu())) {
      double unetMoved = maxAbsDifference(a.unet(), b.unet());
      assertTrue(unetMoved > 0, "the UNet trained");
      assertTrue(unetMoved <= bound, "UNet moved " + unetMoved + " > " + bound);
      double textMoved = maxAbsDifference(a.textEncoder(), b.textEncoder());
      assertTrue(textMoved <= bound, "text encoder moved " + textMoved + " > " + bound);
    }

    Path other = dir.resolve("other-tokenizer");
    Files.createDirectories(other.resolve("tokenizer"));
    Files.writeString(other.resolve("tokenizer/vocab.json"), "{}");
    Files.writeString(other.resolve("tokenizer/merges.txt"), "#version: 0.2\n");
    var refused =
        Assertions.assertThrows(
            IllegalArgumentException.class,
            () ->
                BaseModelBuilder.build(
                    dir.resolve("refused"),
                    tiny().unetSteps(1).build(),
                    BaseModelBuilder.Start.fineTuning(other),
                    System.out));
    assertTrue(
        refused.getMessage().contains("--init-from " + other + ": its tokenizer/vocab.json"),
        refused.getMessage());
  }

  private static double maxAbsDifference(
      org.perfusionjobs.engine.nn.Module a, org.perfusionjobs.engine.nn.Module b) {
    double max = 0;
    for (var e : a.namedParameters().entrySet()) {
      float[] x = e.getValue().get().toFloatArray();
      float[] y = b.namedParameters().get(e.getKey()).get().toFloatArray();
      assertEquals(x.length, y.length, e.getKey());
      for (int i = 0; i < x.length; i++) {
        max = Math.max(max, Math.abs((double) x[i] - y[i]));
      }
    }
    return max;
  }

  @Test
  void learningRateWarmsUpThenFollowsACosineDownToATenth() {
    float peak = 3e-4f;
    assertEquals(
        peak / BaseModelBuilder.WARMUP_STEPS, BaseModelBuilder.learningRate(peak, 0, 8000), 1e-12);
    assertEquals(
        peak, BaseModelBuilder.learningRate(peak, BaseModelBuilder.WARMUP_STEPS - 1, 8000), 1e-9);
    assertEquals(
        peak, BaseModelBuilder.learningRate(peak, BaseModelBuilder.WARMUP_STEPS, 8000), 1e-9);
    // Halfway through the decay: 0.1 + 0.9 * 0.5 * (1 + cos(pi / 2)) = 0.55 of the peak.
    int mid = BaseModelBuilder.WARMUP_STEPS + (8000 - BaseModelBuilder.WARMUP_STEPS) / 2;
    assertEquals(0.55 * peak, BaseModelBuilder.learningRate(peak, mid, 8000), 1e-9);
    assertEquals(0.1 * peak, BaseModelBuilder.learningRate(peak, 8000, 8000), 1e-9);
    float prev = Float.MAX_VALUE;
    for (int step = BaseModelBuilder.WARMUP_STEPS; step < 8000; step += 97) {
      float lr = BaseModelBuilder.learningRate(peak, step, 8000);
      assertTrue(lr <= prev && lr >= 0.1f * peak - 1e-9, "step " + step + ": " + lr);
      prev = lr;
    }
    // A 20-step run warms up over 2 steps.
    assertEquals(peak / 2, BaseModelBuilder.learningRate(peak, 0, 20), 1e-12);
  }

  @Test
  void theTextEncoderIsFrozenForTheLastShareOfSteps() {
    assertEquals(9600, BaseModelBuilder.Settings.defaults().stages().jointSteps());
    assertEquals(
        12000,
        BaseModelBuilder.Settings.builder().frozenTextFraction(0).build().stages().jointSteps());
    var e =
        Assertions.assertThrows(
            IllegalArgumentException.class,
            () -> BaseModelBuilder.Settings.builder().frozenTextFraction(1.5f).build());
    assertTrue(e.getMessage().contains("frozen text fraction 1.5"), e.getMessage());
    e =
        Assertions.assertThrows(
            IllegalArgumentException.class,
            () -> BaseModelBuilder.Settings.builder().latentChannels(0).build());
    assertTrue(e.getMessage().contains("latent channels 0 (>= 1)"), e.getMessage());
    e =
        Assertions.assertThrows(
            IllegalArgumentException.class,
            () -> BaseModelBuilder.Settings.builder().unetAverageDecay(1f).build());
    assertTrue(e.getMessage().contains("unet average decay 1.0"), e.getMessage());
    e =
        Assertions.assertThrows(
            IllegalArgumentException.class,
            () -> BaseModelBuilder.Settings.builder().textLearningRateScale(1.5f).build());
    assertTrue(e.getMessage().contains("text lr scale 1.5 (in (0, 1])"), e.getMessage());
  }

  /**
   * --two-object-fraction sets the share of two-object scenes the model trains on, and is checked
   * by name.
   */
  @Test
  void theTwoObjectShareReachesTheTrainingWorld() {
    BaseModelBuilder.Settings d = BaseModelBuilder.Settings.defaults();
    assertEquals(0.5, d.data().twoObjectFraction(), 1e-12);
    assertTrue(
        BaseModelBuilder.trainingWorld(
                BaseModelBuilder.Settings.builder().twoObjectFraction(1).build())
            .samples(5, 40)
            .allMatch(x -> x.scene().objects().size() == 2));
    assertTrue(
        BaseModelBuilder.trainingWorld(
                BaseModelBuilder.Settings.builder().twoObjectFraction(0).build())
            .samples(5, 40)
            .allMatch(x -> x.scene().objects().size() == 1));
    long two =
        BaseModelBuilder.trainingWorld(
                BaseModelBuilder.Settings.builder().twoObjectFraction(0.5).build())
            .samples(5, 400)
            .filter(x -> x.scene().objects().size() == 2)
            .count();
    assertTrue(
        two > 150 && two < 250,
        "about half of 400 scenes have two objects: " + two); // binomial sd 10
    var e =
        Assertions.assertThrows(
            IllegalArgumentException.class,
            () -> BaseModelBuilder.Settings.builder().twoObjectFraction(1.2).build());
    assertTrue(e.getMessage().contains("two-object fraction 1.2 (in [0, 1])"), e.getMessage());
  }

  /**
   * --patterns: revision 7's recipe stripes every patterned object; all hidden patterns reach the
   * training world when named; plain is refused by name.
   */
  @Test
  void thePatternsReachTheTrainingWorld() {
    BaseModelBuilder.Settings d = BaseModelBuilder.Settings.defaults();
    Set<Pattern> drawn = new HashSet<>();
    BaseModelBuilder.trainingWorld(d)
        .samples(6, 300)
        .forEach(x -> x.scene().objects().forEach(o -> drawn.add(o.pattern())));
    assertEquals(Set.of(Pattern.PLAIN, Pattern.STRIPES), drawn);
    drawn.clear();
    BaseModelBuilder.trainingWorld(
            BaseModelBuilder.Settings.builder().patterns(Pattern.hidden()).build())
        .samples(6, 300)
        .forEach(x -> x.scene().objects().forEach(o -> drawn.add(o.pattern())));
    assertEquals(EnumSet.allOf(Pattern.class), drawn);
    var e =
        Assertions.assertThrows(
            IllegalArgumentException.class,
            () -> BaseModelBuilder.Settings.builder().patterns(List.of(Pattern.PLAIN)).build());
    assertTrue(e.getMessage().startsWith("patterns: "), e.getMessage());
  }
}
