package org.perfusionjobs.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.attention.Region;
import org.perfusionjobs.engine.pipeline.RegionalConditioner.RegionPrompt;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;
import org.perfusionjobs.engine.unet.BasicTransformerBlock;
import org.perfusionjobs.testdata.TestData;

/**
 * Regional cross-attention on the tiny reference model: a box's tokens get exactly what the whole
 * map gets from the box's text, the others exactly what they get from the prompt; a region whose
 * text is the prompt changes nothing; a request with regions runs in a UNet call of its own.
 */
class RegionalConditionerTest {
  static StableDiffusionPipeline sd;

  @BeforeAll
  static void load() throws Exception {
    sd = StableDiffusionPipeline.load(TestData.path("sd-tiny-ref"), EngineOptions.cpu());
  }

  @AfterAll
  static void close() {
    sd.close();
  }

  @Test
  void aBoxCoversTheCellsWhoseCentresLieInIt() {
    try (NDManager m = NDManager.newBaseManager()) {
      // Left third of a 3-row x 6-column map: columns 0 and 1 (centres 1/12, 3/12 < 1/3).
      float[] mask =
          new Region(0, 0, 1.0 / 3, 1).tokenMask(3, 6, DataType.FLOAT32, m).toFloatArray();
      float[] expected = new float[18];
      for (int r = 0; r < 3; r++) {
        expected[r * 6] = 1;
        expected[r * 6 + 1] = 1;
      }
      assertArrayEquals(expected, mask);
      assertEquals(
          new Shape(1, 18, 1),
          new Region(0, 0, 1, 1).tokenMask(3, 6, DataType.FLOAT32, m).getShape());
    }
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new Region(0.5, 0, 0.5, 1));
    assertTrue(e.getMessage().contains("0 <= left < right <= 1"), e.getMessage());
  }

  /**
   * One transformer block: outside the box its output is the prompt's, bit for bit (the blend adds
   * exactly zero there); inside, the region text's within 1e-5 (a2 + (inside - a2) rounds).
   */
  @Test
  void insideTheBoxTheRegionsTextOutsideThePrompts() {
    List<BasicTransformerBlock> blocks = new ArrayList<>();
    sd.unet()
        .visit(
            (path, mod) -> {
              if (mod instanceof BasicTransformerBlock b) {
                blocks.add(b);
              }
            });
    BasicTransformerBlock block = blocks.get(0);
    int width = Math.toIntExact(block.norm1.weight.shape().get(0));
    long h = 4;
    long w = 6;
    try (NDManager m = sd.manager().newSubManager()) {
      NDArray x = new NoiseGenerator(5).normal(new Shape(1, h * w, width), m);
      Conditioning prompt = Conditioning.of(sd.encodePrompts(List.of("a red car"), m));
      Conditioning other =
          Conditioning.of(sd.encodePrompts(List.of("a blue bird on the beach"), m));
      Region box = new Region(0.5, 0, 1, 0.5); // right half of the top half: rows 0-1, columns 3-5
      Conditioning regional = prompt.withRegions(List.of(box), List.of(other));
      float[] mixed = block.forward(x, regional, h, w).toFloatArray();
      float[] fromPrompt = block.forward(x, prompt, h, w).toFloatArray();
      float[] fromOther = block.forward(x, other, h, w).toFloatArray();
      int inside = 0;
      for (int t = 0; t < h * w; t++) {
        boolean in = box.covers(t / w, t % w, h, w);
        inside += in ? 1 : 0;
        for (int c = 0; c < width; c++) {
          int i = t * width + c;
          if (in) {
            assertEquals(fromOther[i], mixed[i], 1e-5f, "token " + t + " (inside)");
          } else {
            assertEquals(fromPrompt[i], mixed[i], 0f, "token " + t + " (outside)");
          }
        }
      }
      assertEquals(6, inside, "rows 0-1 x columns 3-5");
      float gap = 0;
      for (int i = 0; i < fromPrompt.length; i++) {
        gap = Math.max(gap, Math.abs(fromPrompt[i] - fromOther[i]));
      }
      assertTrue(gap > 1e-3f, "the two texts must differ for the test to mean anything: " + gap);
    }
  }

  /**
   * Through the pipeline: regions whose text is the prompt draw the plain image bit for bit, and a
   * region with another text changes it; with another request in a batch, a request with regions
   * runs in calls of its own and draws what it draws alone.
   */
  @Test
  void regionsDrawThroughThePipelineAndRunInCallsOfTheirOwn() {
    String p = "a red car on the beach";
    GenerateRequest plain = GenerateRequest.builder(p).optSteps(3).optSeed(4).build();
    float[] plainLatents = sd.generate(plain).latents();
    Conditioner same =
        RegionalConditioner.of(
            Conditioner.PLAIN, List.of(new RegionPrompt(new Region(0, 0, 0.5, 1), p)));
    GenerateRequest sameText =
        GenerateRequest.builder(p).optSteps(3).optSeed(4).optConditioner(same).build();
    assertArrayEquals(plainLatents, sd.generate(sameText).latents(), 0f);
    Conditioner bird =
        RegionalConditioner.of(
            Conditioner.PLAIN,
            List.of(new RegionPrompt(new Region(0, 0, 0.5, 1), "a blue bird on the grass")));
    GenerateRequest regional =
        GenerateRequest.builder(p).optSteps(3).optSeed(4).optConditioner(bird).build();
    float[] alone = sd.generate(regional).latents();
    float diff = 0;
    for (int i = 0; i < alone.length; i++) {
      diff = Math.max(diff, Math.abs(alone[i] - plainLatents[i]));
    }
    assertTrue(diff > 1e-3f, "a region with another text changes the image: " + diff);
    try (DenoisingBatch batch = new DenoisingBatch(sd, 4, Duration.ZERO)) {
      CompletableFuture<GenerateResult> r = batch.submit(regional);
      batch.submit(plain);
      batch.drain();
      assertEquals(6, batch.unetCalls(), "3 steps each, in calls of their own");
      assertArrayEquals(alone, r.join().latents(), 1e-5f);
    }
  }

  /**
   * Anchored guidance with regions (eps = u + g (a - u) + s (c - a), every row regional): s = g is
   * the plain regional request, s = 0 the regional request of the anchors; within 1e-3 of the
   * latents (three rows against two round differently), while the two requests differ by more than
   * 0.05. A region without an anchor text in an anchored request is refused, naming it.
   */
  @Test
  void anchoredRegionsMatchTheirClosedForm() {
    Region box = new Region(0, 0, 0.5, 1);
    String p = "a red car on the beach";
    String a = "a green bird in the snow";
    RegionPrompt region = new RegionPrompt(box, "a blue bird on the grass");
    RegionPrompt anchorRegion = new RegionPrompt(box, "a yellow car on the road");
    Conditioner plain = RegionalConditioner.of(Conditioner.PLAIN, List.of(region));
    Conditioner ofAnchors = RegionalConditioner.of(Conditioner.PLAIN, List.of(anchorRegion));
    Conditioner anchored =
        RegionalConditioner.of(Conditioner.PLAIN, List.of(region.withAnchor(anchorRegion.text())));
    GenerateRequest.Builder b =
        GenerateRequest.builder(p).optSteps(3).optSeed(4).optGuidanceScale(6f);
    float[] prompt = sd.generate(b.optConditioner(plain).build()).latents();
    float[] sameScale = sd.generate(b.optConditioner(anchored).optAnchor(a, 6f).build()).latents();
    float[] zeroScale = sd.generate(b.optConditioner(anchored).optAnchor(a, 0f).build()).latents();
    float[] anchor =
        sd.generate(
                GenerateRequest.builder(a)
                    .optSteps(3)
                    .optSeed(4)
                    .optGuidanceScale(6f)
                    .optConditioner(ofAnchors)
                    .build())
            .latents();
    assertTrue(maxDiff(prompt, anchor) > 0.05f, "the two requests differ");
    assertEquals(0f, maxDiff(prompt, sameScale), 1e-3f, "s = g: the plain regional request");
    assertEquals(0f, maxDiff(anchor, zeroScale), 1e-3f, "s = 0: the anchors' regional request");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> sd.generate(b.optConditioner(plain).optAnchor(a, 2f).build()));
    assertTrue(e.getMessage().contains("regions[0].anchor"), e.getMessage());
  }

  private static float maxDiff(float[] x, float[] y) {
    float d = 0;
    for (int i = 0; i < x.length; i++) {
      d = Math.max(d, Math.abs(x[i] - y[i]));
    }
    return d;
  }

  /**
   * A scheduled region text inside an unscheduled prompt (the superclass layout with confined
   * regions): the early steps see the region's early text in its box and the prompt itself outside,
   * the late steps the region's own text; schedules at two shares are refused.
   */
  @Test
  void aScheduledRegionInAPlainPromptKeepsThePromptThroughBothParts() {
    try (NDManager m = sd.manager().newSubManager()) {
      Conditioning prompt = Conditioning.of(sd.encodePrompts(List.of("a"), m));
      Conditioning late = Conditioning.of(sd.encodePrompts(List.of("b"), m));
      Conditioning early = Conditioning.of(sd.encodePrompts(List.of("c"), m));
      Region box = new Region(0, 0, 0.5, 0.5);
      Conditioning c = prompt.withRegions(List.of(box), List.of(late.withEarly(early, 0.3)));
      Conditioning first = c.atStep(2, 10);
      Conditioning rest = c.atStep(3, 10);
      assertTrue(first != rest, "step 3 of 10 is past the early share 0.3");
      assertEquals(List.of(first, rest), c.parts());
      for (Conditioning part : List.of(first, rest)) {
        assertEquals(1, part.regions().size());
        assertEquals(box, part.regions().get(0).box());
      }
      assertTrue(first.regions().get(0).text() == early, "early steps: the region's early text");
      assertTrue(rest.regions().get(0).text() != early, "late steps: the region's own text");
      assertArrayEquals(
          prompt.keyStates().toFloatArray(), first.keyStates().toFloatArray(), "outside, early");
      assertArrayEquals(
          prompt.keyStates().toFloatArray(), rest.keyStates().toFloatArray(), "outside, late");
      assertArrayEquals(
          late.keyStates().toFloatArray(),
          rest.regions().get(0).text().keyStates().toFloatArray(),
          "the region's late text");

      Conditioning other = late.withEarly(early, 0.5);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> prompt.withEarly(early, 0.3).withRegions(List.of(box), List.of(other)));
      assertTrue(e.getMessage().contains("different shares: 0.5 and 0.3"), e.getMessage());
    }
  }

  @Test
  void aRegionsTextMustMatchThePromptsBatch() {
    try (NDManager m = sd.manager().newSubManager()) {
      Conditioning prompt = Conditioning.of(sd.encodePrompts(List.of("a", "b"), m));
      Conditioning one = Conditioning.of(sd.encodePrompts(List.of("c"), m));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> prompt.withRegions(List.of(new Region(0, 0, 1, 1)), List.of(one)));
      assertTrue(e.getMessage().contains("prompt's batch"), e.getMessage());
    }
  }
}
