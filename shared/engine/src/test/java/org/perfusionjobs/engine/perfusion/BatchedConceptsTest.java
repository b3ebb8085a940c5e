package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.pipeline.DenoisingBatch;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.GenerationCancelledException;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;

/**
 * Step-level batching of requests with different concepts (Perfusion's edit lives in each request's
 * own K/V): every request's result equals what it gets alone, latents within 1e-4 and 8-bit images
 * within one level, while the UNet runs once per step for all of them.
 */
class BatchedConceptsTest {
  static final float LATENT_TOLERANCE = 1e-4f;
  static StableDiffusionPipeline sd;
  static PerfusionModel perfusion;
  static Concept a;
  static Concept b;
  static Concept c;

  @BeforeAll
  static void setUp() {
    try {
      sd = TinyModel.pipeline();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    perfusion = PerfusionModel.of(sd);
    a = train("zwx", "car", Color.RED, 7);
    b = train("sks", "bird", Color.YELLOW, 8);
    c = train("qrs", "toy", Color.GREEN, 9);
  }

  private static Concept train(String word, String superclass, Color color, long seed) {
    return TinyModel.quickConcept(perfusion, word, superclass, color, seed);
  }

  /**
   * Eight requests: different concepts, betas, taus, locks, samplers, steps, guidance, seeds, batch
   * sizes, sizes.
   */
  static List<GenerateRequest> eight() {
    return List.of(
        req("a photo of a zwx", List.of(ConceptUse.of(a)), false)
            .optSteps(4)
            .optGuidanceScale(5)
            .optSeed(1)
            .build(),
        req("a sks on the beach", List.of(new ConceptUse(b, 0.6f, 0.2f)), false)
            .optNegativePrompt("a drawing")
            .optSteps(4)
            .optGuidanceScale(7.5f)
            .optSeed(2)
            .build(),
        req("a zwx and a sks", List.of(ConceptUse.of(a), ConceptUse.of(b)), true)
            .optSampler(SamplerKind.DPMPP_2M)
            .optSteps(5)
            .optGuidanceScale(4)
            .optSeed(3)
            .build(),
        req("a small qrs", List.of(ConceptUse.of(c)), false)
            .optSampler(SamplerKind.EULER_ANCESTRAL)
            .optSteps(3)
            .optGuidanceScale(5)
            .optSeed(4)
            .build(),
        GenerateRequest.builder("a green bird")
            .optSteps(6)
            .optGuidanceScale(1)
            .optSeed(5)
            .optBatchSize(2)
            .build(),
        req("a wooden zwx", List.of(new ConceptUse(a, 0.9f, 0.1f)), false)
            .optSteps(4)
            .optGuidanceScale(3)
            .optSeed(6)
            .optSize(64, 64)
            .build(),
        req("my sks at sunset", List.of(ConceptUse.of(b)), false)
            .optEta(0.5f)
            .optSteps(5)
            .optGuidanceScale(5)
            .optSeed(7)
            .build(),
        req("a qrs drawing", List.of(ConceptUse.of(c)), true)
            .optSteps(2)
            .optGuidanceScale(6)
            .optSeed(8)
            .optBatchSize(2)
            .build());
  }

  private static GenerateRequest.Builder req(
      String prompt, List<ConceptUse> uses, boolean globalLock) {
    return GenerateRequest.builder(prompt).optConditioner(perfusion.conditioner(uses, globalLock));
  }

  @Test
  void eightConceptsBatchedEqualEachAlone() {
    List<GenerateRequest> rs = eight();
    List<GenerateResult> alone = new ArrayList<>();
    for (GenerateRequest r : rs) {
      alone.add(sd.generate(r));
    }
    try (DenoisingBatch batch = new DenoisingBatch(sd, 16, Duration.ZERO)) {
      List<CompletableFuture<GenerateResult>> fs = rs.stream().map(batch::submit).toList();
      batch.drain();
      for (int i = 0; i < rs.size(); i++) {
        assertSame(alone.get(i), fs.get(i).join(), "request " + i);
      }
      // 32 px group: as many calls as its longest request (6 steps); the 64 px request: its own 4.
      assertEquals(6 + 4, batch.unetCalls(), "one UNet call per step for each latent size");
    }
  }

  @Test
  void requestsJoinBetweenStepsAndWaitForAPlaceInOrder() {
    List<GenerateRequest> rs =
        eight().subList(0, 4); // 4, 4, 5 and 3 steps, one image each, all 32 px
    List<GenerateResult> alone = rs.stream().map(sd::generate).toList();
    try (DenoisingBatch batch = new DenoisingBatch(sd, 2, Duration.ZERO)) {
      CompletableFuture<GenerateResult> f0 = batch.submit(rs.get(0));
      CompletableFuture<GenerateResult> f1 = batch.submit(rs.get(1));
      batch.step();
      batch.step();
      assertEquals(2, batch.unetCalls(), "two requests, limit 2: one call per step");
      CompletableFuture<GenerateResult> f2 = batch.submit(rs.get(2));
      CompletableFuture<GenerateResult> f3 = batch.submit(rs.get(3));
      batch.step(); // the late two wait: the batch is full
      assertEquals(3, batch.unetCalls());
      batch.drain();
      // Calls 1-4 serve the first two; 5-7 the late two together; 8-9 the 5-step one alone.
      assertEquals(9, batch.unetCalls());
      assertSame(alone.get(0), f0.join(), "first");
      assertSame(alone.get(1), f1.join(), "second");
      assertSame(alone.get(2), f2.join(), "joined late, 5 steps");
      assertSame(alone.get(3), f3.join(), "joined late, euler_a");
    }
  }

  @Test
  void aFirstStepWaitsForJoinersWhenAskedTo() throws Exception {
    List<GenerateRequest> rs = eight().subList(0, 2); // 4 steps each
    long a0 = System.nanoTime();
    List<GenerateResult> alone = rs.stream().map(sd::generate).toList();
    // The steps' own compute time on this machine now: the bounds below add it, so a loaded
    // machine cannot fail them, while a step that waited the 3 s window again still would.
    double computeSeconds = (System.nanoTime() - a0) / 1e9;
    try (DenoisingBatch batch = new DenoisingBatch(sd, 4, Duration.ofSeconds(3))) {
      CompletableFuture<GenerateResult> f0 = batch.submit(rs.get(0));
      Thread late =
          new Thread(
              () -> {
                try {
                  Thread.sleep(200);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                batch.submit(rs.get(1));
              });
      long t0 = System.nanoTime();
      late.start();
      batch.step(); // the first request's first step waits 3 s for company; the joiner comes after
      // 200 ms
      double first = (System.nanoTime() - t0) / 1e9;
      late.join();
      assertTrue(
          first >= 2.9 && first < 3 + computeSeconds + 2,
          "the first step waited the join window: " + first + " s");
      assertEquals(2, batch.activeCount(), "both joined");
      assertEquals(1, batch.unetCalls(), "both in the first call");
      long t1 = System.nanoTime();
      batch.drain();
      double rest = (System.nanoTime() - t1) / 1e9;
      assertTrue(
          rest < computeSeconds + 2.5,
          "later steps do not wait: " + rest + " s, compute alone " + computeSeconds + " s");
      assertEquals(4, batch.unetCalls(), "every step shared");
      assertSame(alone.get(0), f0.join(), "first");
    }
  }

  @Test
  void cancelRemovesOneRequestAtTheNextStep() {
    List<GenerateRequest> rs = eight().subList(0, 3);
    List<GenerateResult> alone = rs.stream().map(sd::generate).toList();
    AtomicInteger steps = new AtomicInteger();
    GenerateRequest cancelled =
        rs.get(1).toBuilder()
            .optOnStep(p -> steps.set(p.step()))
            .optCancelled(() -> steps.get() >= 2)
            .build();
    try (DenoisingBatch batch = new DenoisingBatch(sd, 16, Duration.ZERO)) {
      CompletableFuture<GenerateResult> f0 = batch.submit(rs.get(0));
      CompletableFuture<GenerateResult> f1 = batch.submit(cancelled);
      CompletableFuture<GenerateResult> f2 = batch.submit(rs.get(2));
      batch.drain();
      CompletionException e =
          org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class, f1::join);
      GenerationCancelledException gc =
          assertInstanceOf(GenerationCancelledException.class, e.getCause());
      assertEquals(2, gc.completedSteps());
      assertSame(alone.get(0), f0.join(), "first");
      assertSame(alone.get(2), f2.join(), "third");
    }
  }

  private static void assertSame(GenerateResult expected, GenerateResult actual, String what) {
    assertEquals(expected.latents().length, actual.latents().length, what + ": latent size");
    float worst = 0;
    for (int i = 0; i < expected.latents().length; i++) {
      worst = Math.max(worst, Math.abs(expected.latents()[i] - actual.latents()[i]));
    }
    assertTrue(worst <= LATENT_TOLERANCE, what + ": latents differ by " + worst);
    assertEquals(expected.images().size(), actual.images().size(), what + ": image count");
    for (int k = 0; k < expected.images().size(); k++) {
      int d = ImageCodec.maxLevelDifference(expected.images().get(k), actual.images().get(k));
      assertTrue(d <= 1, what + ": image " + k + " differs by " + d + " levels");
    }
  }
}
