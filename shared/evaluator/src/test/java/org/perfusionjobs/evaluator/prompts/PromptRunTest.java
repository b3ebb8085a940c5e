package org.perfusionjobs.evaluator.prompts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;
import org.perfusionjobs.evaluator.Evaluator;

/**
 * Prompts that share UNet calls score as they score one at a time: on the bundled model, seven
 * prompts in calls of three (3 + 3 + 1) give every image within one 8-bit level of its
 * one-at-a-time image (the larger matrix product rounds differently) and the same evaluator
 * reading, in prompt order, with each prompt's own seed.
 */
class PromptRunTest {
  static Path model() {
    return Path.of(System.getProperty("perfusion.models", "models")).resolve("world-v2");
  }

  @Test
  void promptsSharingUnetCallsScoreAsOneAtATime() throws Exception {
    List<EvalPrompt> prompts = PromptSet.base(77, 7);
    PromptRun.Settings oneByOne =
        new PromptRun.Settings(8, 5f, SamplerKind.DDIM, 3, List.of()).withImagesPerCall(1);
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model(), EngineOptions.cpu());
        Evaluator ev = Evaluator.load(model().resolve("evaluator"))) {
      List<Integer> progress = new ArrayList<>();
      PromptRun.Result alone = PromptRun.run(sd, ev, prompts, oneByOne, i -> {});
      PromptRun.Result shared =
          PromptRun.run(sd, ev, prompts, oneByOne.withImagesPerCall(3), progress::add);
      assertEquals(List.of(1, 2, 3, 4, 5, 6, 7), progress, "progress once per finished image");
      assertEquals(prompts.size(), shared.images().size());
      for (int i = 0; i < prompts.size(); i++) {
        int diff = ImageCodec.maxLevelDifference(alone.images().get(i), shared.images().get(i));
        assertTrue(diff <= 1, "prompt " + i + " differs by " + diff + " levels");
        assertEquals(alone.found().get(i), shared.found().get(i), "prompt " + i);
      }
      assertTrue(
          ImageCodec.maxLevelDifference(shared.images().get(0), shared.images().get(1)) > 16,
          "different prompts and seeds draw different images");
      assertEquals(alone.report().summary(), shared.report().summary());
    }
  }

  @Test
  void aCallNeedsAtLeastOneImage() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new PromptRun.Settings(8, 5f, SamplerKind.DDIM, 3, List.of()).withImagesPerCall(0));
    assertEquals("images per UNet call must be at least 1, got 0", e.getMessage());
  }
}
