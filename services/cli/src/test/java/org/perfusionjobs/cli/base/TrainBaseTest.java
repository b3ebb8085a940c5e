package org.perfusionjobs.cli.base;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.Covariance;
import org.perfusionjobs.engine.perfusion.PerfusionTrainer;
import org.perfusionjobs.engine.perfusion.TrainingConfig;
import org.perfusionjobs.engine.perfusion.TrainingImages;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;

/** A few steps of every stage: the folder must be a complete base model (load, generate, Perfusion training). */
class TrainBaseTest {
  @TempDir Path dir;

  @Test
  void tinyBuildIsACompleteBaseModel() throws Exception {
    Path out = dir.resolve("base");
    BaseModelBuilder.Settings s = BaseModelBuilder.Settings.defaults().withSteps(10, 10, 4).withData(3, 32, 200);
    long t0 = System.nanoTime();
    BaseModelBuilder.Result r = BaseModelBuilder.build(out, s, System.out);
    System.out.printf("TrainBaseTest: build %.1f s, timings %s%n", (System.nanoTime() - t0) / 1e9, r.timings());
    assertTrue(r.scalingFactor() > 0 && Float.isFinite(r.scalingFactor()), "scaling factor " + r.scalingFactor());
    assertTrue(Float.isFinite(r.lastVaeLoss()) && Float.isFinite(r.lastDiffusionLoss()), r.toString());
    assertTrue(Files.isRegularFile(out.resolve(Covariance.FILE_NAME)));
    for (String f : List.of("model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt",
        "text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors")) {
      assertTrue(Files.isRegularFile(out.resolve(f)), f + " is missing");
    }
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(out, EngineOptions.cpu())) {
      assertEquals(64, sd.defaultImageSize());
      assertEquals(r.scalingFactor(), sd.vae().config().scalingFactor(), 1e-6f);
      long g0 = System.nanoTime();
      GenerateResult g = sd.generate(GenerateRequest.builder("a red circle at the top").optSteps(4).optSeed(1).build());
      System.out.printf("TrainBaseTest: generate 4 steps %.0f ms%n", (System.nanoTime() - g0) / 1e6);
      BufferedImage img = g.images().get(0);
      assertEquals(64, img.getWidth());
      assertEquals(64, img.getHeight());

      List<Sample> stars = new World().samples(11, 200).filter(x -> x.caption().contains("star")).limit(2).toList();
      assertEquals(2, stars.size());
      TrainingImages data = new TrainingImages(stars.stream().map(Sample::image).toList(), stars.stream().map(x -> x.masks().get(0)).toList());
      PerfusionTrainer trainer = new PerfusionTrainer(sd, sd.covariance(), sd.baseModelId());
      long p0 = System.nanoTime();
      Concept c = trainer.train(data, TrainingConfig.defaults("zwx", "star").withSteps(2).withBatch(1, 1), null, p -> {}, st -> {}, () -> false);
      System.out.printf("TrainBaseTest: Perfusion 2 steps %.0f ms%n", (System.nanoTime() - p0) / 1e6);
      assertTrue(c != null);
    }
  }
}
