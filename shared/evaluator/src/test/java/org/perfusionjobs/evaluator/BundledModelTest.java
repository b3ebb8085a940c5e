package org.perfusionjobs.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;
import org.perfusionjobs.evaluator.prompts.Attribute;
import org.perfusionjobs.evaluator.prompts.EvalPrompt;
import org.perfusionjobs.evaluator.prompts.PromptRun;
import org.perfusionjobs.evaluator.prompts.PromptSet;

/**
 * The committed base model loads with the engine, stays within the size budget, and follows
 * colour, position and background words well above chance (a small prompt set, so that CI stays
 * fast; the full 200-prompt figures are in the model card and docs/benchmarks.md).
 */
class BundledModelTest {
  static Path model() {
    return Path.of(System.getProperty("perfusion.models", "models")).resolve("world-v2");
  }

  @Test
  void weightsFitTheBudget() throws Exception {
    long total;
    try (var files = Files.walk(model())) {
      total =
          files
              .filter(p -> p.toString().endsWith(".safetensors"))
              .mapToLong(p -> p.toFile().length())
              .sum();
    }
    assertTrue(total <= 30L * 1024 * 1024, "weights are " + total + " bytes, over 30 MiB");
  }

  @Test
  void followsShapeColourPositionAndBackgroundWords() throws Exception {
    List<EvalPrompt> prompts = PromptSet.base(4242, 24);
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model(), EngineOptions.cpu());
        Evaluator ev = Evaluator.load(model().resolve("evaluator"))) {
      assertEquals(64, sd.unet().config().sampleSize() * 4, "64x64 images from 16x16 latents");
      PromptRun.Result r =
          PromptRun.run(
              sd,
              ev,
              prompts,
              new PromptRun.Settings(20, 5f, SamplerKind.DDIM, 0, List.of()),
              i -> {});
      System.out.println("BundledModelTest: " + r.report().summary());
      // Regression floors, not the goals (those are measured over 200 prompts, see the
      // card).
      // Measured on these 24 prompts (world-v2): shape 93.8%, colour 81.3%, position 87.5%,
      // background 100% (chance: 1/5, 1/6, 1/9, 1/4); over 200 prompts: 94.2%, 97.3%, 86.9%, 99.3%.
      // Colour loses most in two-object prompts that ask two objects of one shape, which often
      // swap their colours (model card).
      // 32 objects: one standard error is about 6-8 points, so the floors sit 1-2 below the
      // measure.
      assertTrue(r.report().rate(Attribute.SHAPE) >= 0.8, r.report().summary());
      assertTrue(r.report().rate(Attribute.COLOUR) >= 0.7, r.report().summary());
      assertTrue(r.report().rate(Attribute.POSITION) >= 0.7, r.report().summary());
      assertTrue(r.report().rate(Attribute.BACKGROUND) >= 0.8, r.report().summary());
    }
  }
}
