package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.awt.Color;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.pipeline.DenoisingBatch;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.PromptBatch;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * The superclass layout (beyond the paper): the first share of the denoising steps are the plain
 * pipeline on the prompt with the concept word replaced by its superclass, the rest Perfusion's
 * edit. At a share that rounds to no step the result is the paper's bit for bit; at one that rounds
 * to every step it is the plain superclass prompt's bit for bit; in between it is neither, and
 * batched with other requests it equals itself alone.
 */
class SuperclassLayoutTest {
  static StableDiffusionPipeline sd;
  static PerfusionModel perfusion;
  static Concept zwx;

  @BeforeAll
  static void setUp() throws Exception {
    sd = TinyModel.pipeline();
    perfusion = PerfusionModel.of(sd);
    zwx = TinyModel.quickConcept(perfusion, "zwx", "car", Color.RED, 7);
  }

  private static GenerateRequest request(String prompt, Concept c) {
    GenerateRequest.Builder b =
        GenerateRequest.builder(prompt).optSteps(4).optGuidanceScale(5).optSeed(11);
    if (c != null) {
      b.optConditioner(perfusion.conditioner(List.of(ConceptUse.of(c)), false));
    }
    return b.build();
  }

  private static float maxDiff(float[] a, float[] b) {
    float d = 0;
    for (int i = 0; i < a.length; i++) {
      d = Math.max(d, Math.abs(a[i] - b[i]));
    }
    return d;
  }

  @Test
  void theFirstStepsDrawTheSuperclassPromptAndTheRestTheEdit() {
    float[] paper = sd.generate(request("a small zwx on the beach", zwx)).latents();
    float[] superclass = sd.generate(request("a small car on the beach", null)).latents();
    // 4 steps: 0.1 rounds to no step, 0.9 to all four, 0.5 to two.
    float[] none =
        sd.generate(request("a small zwx on the beach", SuperclassLayout.apply(zwx, 0.1)))
            .latents();
    float[] all =
        sd.generate(request("a small zwx on the beach", SuperclassLayout.apply(zwx, 0.9)))
            .latents();
    float[] half =
        sd.generate(request("a small zwx on the beach", SuperclassLayout.apply(zwx, 0.5)))
            .latents();
    assertArrayEquals(paper, none, "no early step: the paper's run");
    assertArrayEquals(superclass, all, "every step early: the plain superclass prompt");
    assertTrue(maxDiff(paper, superclass) > 1e-2, "the concept changes the image at all");
    assertTrue(maxDiff(half, paper) > 1e-3, "half the steps early is not the paper's run");
    assertTrue(maxDiff(half, superclass) > 1e-3, "nor the superclass prompt's");
  }

  @Test
  void aScheduledRequestBatchedWithOthersEqualsItselfAlone() {
    List<GenerateRequest> rs =
        List.of(
            request("a small zwx on the beach", SuperclassLayout.apply(zwx, 0.5)),
            request("a zwx drawing", zwx),
            request("a green bird", null));
    List<GenerateResult> alone = rs.stream().map(sd::generate).toList();
    try (DenoisingBatch batch = new DenoisingBatch(sd, 8, Duration.ZERO)) {
      List<CompletableFuture<GenerateResult>> fs = rs.stream().map(batch::submit).toList();
      batch.drain();
      for (int i = 0; i < rs.size(); i++) {
        float d = maxDiff(alone.get(i).latents(), fs.get(i).join().latents());
        assertTrue(d <= BatchedConceptsTest.LATENT_TOLERANCE, "request " + i + ": " + d);
      }
      assertEquals(4, batch.unetCalls(), "one UNet call per step for all three");
    }
  }

  @Test
  void theEarlyTextIsThePlainEncodingOfTheSuperclassPrompt() {
    try (NDManager m = sd.manager().newSubManager()) {
      PromptBatch prompts = new PromptBatch("a zwx on the beach", "", 1, true);
      Conditioning c =
          perfusion
              .conditioner(List.of(ConceptUse.of(SuperclassLayout.apply(zwx, 0.3))), false)
              .condition(sd, prompts, m);
      assertEquals(2, c.parts().size());
      Conditioning early = c.parts().get(0);
      assertSame(early, c.atStep(2, 10), "steps 0-2 of 10 are early");
      assertSame(c, c.atStep(3, 10), "step 3 of 10 is the edit's");
      assertTrue(early.processor() == null, "the early text runs each layer's own processor");
      NDArray expected = sd.encodePrompts(prompts.rows("a car on the beach"), m);
      assertArrayEquals(expected.toFloatArray(), early.valueStates().toFloatArray());
      assertThrows(IllegalArgumentException.class, () -> c.withEarly(early, 0.5), "three parts");
      Conditioning plain = Conditioning.of(expected);
      assertThrows(IllegalArgumentException.class, () -> plain.withEarly(early, 1.5), "share > 1");
      Conditioning one = Conditioning.of(expected.get("1:2"));
      assertThrows(IllegalArgumentException.class, () -> one.withEarly(plain, 0.5), "batch 1 vs 2");
    }
  }

  @Test
  void theSettingRoundTripsAndBadSharesSayWhatToGive() {
    assertEquals(0, SuperclassLayout.of(zwx), "the paper's by default");
    assertEquals(0.3, SuperclassLayout.of(SuperclassLayout.apply(zwx, 0.3)), 0);
    for (String bad : new String[] {"1", "-0.1", "1.5", "NaN", "abc"}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> SuperclassLayout.parse(bad), bad);
      assertTrue(e.getMessage().startsWith("superclass layout"), e.getMessage());
      assertTrue(e.getMessage().contains("[0, 1)"), e.getMessage());
    }
  }
}
