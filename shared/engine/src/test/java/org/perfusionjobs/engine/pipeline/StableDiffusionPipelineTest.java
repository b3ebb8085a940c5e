package org.perfusionjobs.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.io.ModelLoadException;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.SafetensorsWriter;
import org.perfusionjobs.engine.scheduler.SamplerKind;
import org.perfusionjobs.testdata.TestData;

/** The whole pipeline on the tiny reference checkpoint, against diffusers' own run. */
class StableDiffusionPipelineTest {
  static final String P0 = "a photo of my zwx toy car on the beach";
  static StableDiffusionPipeline sd;
  static Path ref;
  @TempDir Path dir;

  @BeforeAll
  static void load() throws Exception {
    ref = TestData.path("sd-tiny-ref");
    sd = StableDiffusionPipeline.load(ref, EngineOptions.cpu());
  }

  @AfterAll
  static void close() {
    sd.close();
  }

  /** diffusers' 10-step DDIM run (eta 0, CFG 7.5, stored x_T): the same 8-bit pixels. */
  @Test
  void matchesDiffusersDdimRunPixelForPixel() throws Exception {
    InitialLatents xT;
    int[] expected;
    try (NDManager m = NDManager.newBaseManager();
        SafetensorsFile f = SafetensorsFile.open(ref.resolve("reference/ddim_eta0.safetensors"))) {
      NDArray latents = f.read("latents", m);
      NDArray x0 = latents.get(0);
      xT = new InitialLatents(x0.toFloatArray(), x0.getShape().getShape());
      expected = f.read("image_uint8", m).toType(DataType.INT32, false).toIntArray();
    }
    AtomicInteger steps = new AtomicInteger();
    GenerateResult r =
        sd.generate(
            GenerateRequest.builder(P0)
                .optSteps(10)
                .optGuidanceScale(7.5f)
                .optLatents(xT)
                .optSampler(SamplerKind.DDIM)
                .optEta(0f)
                .optOnStep(p -> steps.incrementAndGet())
                .build());
    assertEquals(10, steps.get());
    assertEquals(32, r.width());
    BufferedImage img = r.images().get(0);
    int off = 0;
    int maxDiff = 0;
    int differing = 0;
    for (int y = 0; y < 32; y++) {
      for (int x = 0; x < 32; x++) {
        int rgb = img.getRGB(x, y);
        int[] got = {(rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255};
        for (int c = 0; c < 3; c++) {
          int d = Math.abs(got[c] - expected[off++]);
          maxDiff = Math.max(maxDiff, d);
          differing += d > 0 ? 1 : 0;
        }
      }
    }
    // README tolerance: at most 1 level on a handful of the 3,072 values.
    assertTrue(
        maxDiff <= 1 && differing <= 10, "max diff " + maxDiff + " on " + differing + " values");
  }

  @Test
  void sameSeedSameImageOtherSeedOtherImage() {
    GenerateRequest.Builder b = GenerateRequest.builder(P0).optSteps(4);
    BufferedImage a1 = sd.generate(b.optSeed(11).build()).images().get(0);
    BufferedImage a2 = sd.generate(b.optSeed(11).build()).images().get(0);
    BufferedImage c = sd.generate(b.optSeed(12).build()).images().get(0);
    assertTrue(samePixels(a1, a2));
    assertTrue(!samePixels(a1, c));
  }

  @Test
  void everySamplerRunsAndBatchGivesDistinctImages() {
    for (SamplerKind k : SamplerKind.values()) {
      GenerateResult r =
          sd.generate(
              GenerateRequest.builder(P0)
                  .optSteps(5)
                  .optSampler(k)
                  .optEta(k == SamplerKind.DDIM ? 0.5f : 0f)
                  .optBatchSize(2)
                  .optSeed(3)
                  .optSize(48, 32)
                  .build());
      assertEquals(2, r.images().size(), k.toString());
      assertEquals(48, r.images().get(0).getWidth());
      assertEquals(32, r.images().get(0).getHeight());
      assertTrue(
          !samePixels(r.images().get(0), r.images().get(1)), k + ": batch items must differ");
    }
  }

  @Test
  void negativePromptAndGuidanceChangeTheImage() {
    GenerateRequest.Builder b = GenerateRequest.builder(P0).optSteps(4).optSeed(5);
    BufferedImage plain = sd.generate(b.build()).images().get(0);
    BufferedImage negative = sd.generate(b.optNegativePrompt("green bird").build()).images().get(0);
    BufferedImage unguided =
        sd.generate(b.optNegativePrompt("").optGuidanceScale(1f).build()).images().get(0);
    assertTrue(!samePixels(plain, negative));
    assertTrue(!samePixels(plain, unguided));
  }

  /**
   * Guidance through an anchor prompt is u + g (a - u) + s (c - a): with s = g it is plain guidance
   * on the prompt, with s = 0 plain guidance on the anchor, and with the anchor equal to the prompt
   * the second scale has nothing to scale (c - a = 0). Each within 2 levels of 255 (fp32 rounding).
   */
  @Test
  void anchoredGuidanceMatchesItsClosedForm() {
    String anchor = "a green bird in the snow";
    GenerateRequest.Builder b =
        GenerateRequest.builder(P0).optSteps(6).optSeed(7).optGuidanceScale(7.5f);
    BufferedImage plain = sd.generate(b.build()).images().get(0);
    BufferedImage plainAnchor =
        sd.generate(
                GenerateRequest.builder(anchor)
                    .optSteps(6)
                    .optSeed(7)
                    .optGuidanceScale(7.5f)
                    .build())
            .images()
            .get(0);
    BufferedImage sameScale = sd.generate(b.optAnchor(anchor, 7.5f).build()).images().get(0);
    BufferedImage zeroScale = sd.generate(b.optAnchor(anchor, 0f).build()).images().get(0);
    BufferedImage anchorIsPrompt = sd.generate(b.optAnchor(P0, 2f).build()).images().get(0);
    int apart = ImageCodec.maxLevelDifference(plain, plainAnchor);
    int dSame = ImageCodec.maxLevelDifference(plain, sameScale);
    int dZero = ImageCodec.maxLevelDifference(plainAnchor, zeroScale);
    int dPrompt = ImageCodec.maxLevelDifference(plain, anchorIsPrompt);
    System.out.printf(
        "anchored guidance, max level diffs: prompt vs anchor %d; s = g %d, s = 0 %d, anchor ="
            + " prompt %d%n",
        apart, dSame, dZero, dPrompt);
    assertTrue(apart > 10, "the two prompts' images should differ, by " + apart);
    assertTrue(dSame <= 2, "s = g differs from plain guidance by " + dSame);
    assertTrue(dZero <= 2, "s = 0 differs from the anchor's plain guidance by " + dZero);
    assertTrue(dPrompt <= 2, "anchor = prompt differs from plain guidance by " + dPrompt);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> b.optGuidanceScale(1f).optAnchor(anchor, 2f).build());
    assertTrue(e.getMessage().contains("anchor"), e.getMessage());
    assertEquals(
        List.of("", "", "a b", "a b", "a c", "a c"),
        new PromptBatch("a c", "", "a b", 2, true).rows(),
        "rows: negative, anchor, prompt");
  }

  @Test
  void cancellationStopsBetweenSteps() {
    AtomicInteger seen = new AtomicInteger();
    GenerationCancelledException e =
        assertThrows(
            GenerationCancelledException.class,
            () ->
                sd.generate(
                    GenerateRequest.builder(P0)
                        .optSteps(10)
                        .optOnStep(p -> seen.set(p.step()))
                        .optCancelled(() -> seen.get() >= 3)
                        .build()));
    assertEquals(3, e.completedSteps());
  }

  @Test
  void previewDecodesCurrentLatents() {
    List<BufferedImage> previews = new ArrayList<>();
    sd.generate(
        GenerateRequest.builder(P0)
            .optSteps(3)
            .optOnStep(
                p -> {
                  if (p.step() == 2) {
                    previews.addAll(p.preview().get());
                  }
                })
            .build());
    assertEquals(1, previews.size());
    assertEquals(32, previews.get(0).getWidth());
  }

  @Test
  void requestsLeaveNoArraysBehind() {
    int before = sd.manager().getManagedArrays().size();
    for (int i = 0; i < 5; i++) {
      sd.generate(
          GenerateRequest.builder(P0)
              .optSteps(3)
              .optSeed(i)
              .optSampler(SamplerKind.values()[i % SamplerKind.values().length])
              .build());
    }
    assertEquals(before, sd.manager().getManagedArrays().size());
  }

  @Test
  void badRequestsFailWithClearMessages() {
    IllegalArgumentException size =
        assertThrows(
            IllegalArgumentException.class,
            () -> sd.generate(GenerateRequest.builder(P0).optSize(33, 32).build()));
    assertTrue(size.getMessage().contains("multiples of 2"), size.getMessage());
    IllegalArgumentException latents =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                sd.generate(
                    GenerateRequest.builder(P0)
                        .optLatents(
                            new InitialLatents(new float[4 * 8 * 8], new long[] {1, 4, 8, 8}))
                        .build()));
    assertTrue(latents.getMessage().contains("(1, 4, 16, 16)"), latents.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> GenerateRequest.builder(P0).optSteps(0).build());
  }

  @Test
  void missingOrBrokenModelFolderIsNamed() throws Exception {
    ModelLoadException missing =
        assertThrows(ModelLoadException.class, () -> ModelFolder.open(dir.resolve("nope")));
    assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    Files.writeString(dir.resolve("model_index.json"), "{}");
    Files.createDirectories(dir.resolve("unet"));
    ModelLoadException broken = assertThrows(ModelLoadException.class, () -> ModelFolder.open(dir));
    assertTrue(
        broken.getMessage().contains("text_encoder/ is missing")
            && broken.getMessage().contains("unet/config.json is missing"),
        broken.getMessage());
  }

  @Test
  void latentsFileRoundTrip() throws Exception {
    Path file = dir.resolve("noise.safetensors");
    try (NDManager m = NDManager.newBaseManager()) {
      SafetensorsWriter.write(file, Map.of("latents", m.ones(new Shape(1, 4, 16, 16))), Map.of());
    }
    InitialLatents l = InitialLatents.read(file);
    assertEquals(new Shape(1, 4, 16, 16), l.toShape());
  }

  static boolean samePixels(BufferedImage a, BufferedImage b) {
    for (int y = 0; y < a.getHeight(); y++) {
      for (int x = 0; x < a.getWidth(); x++) {
        if (a.getRGB(x, y) != b.getRGB(x, y)) {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * The conditioning hook: a request's Conditioner decides the K/V inputs the UNet sees. One that
   * feeds the encoding of another prompt must give exactly the plain image of that prompt, and it
   * is resolved once per request, not per step.
   */
  @Test
  void theRequestsConditionerDecidesWhatTheUNetSees() {
    AtomicInteger calls = new AtomicInteger();
    List<List<String>> rows = new ArrayList<>();
    Conditioner other =
        (p, prompts, m) -> {
          calls.incrementAndGet();
          rows.add(prompts.rows());
          return Conditioner.PLAIN.condition(
              p,
              new PromptBatch(
                  "a small bird", prompts.negativePrompt(), prompts.batchSize(), prompts.guided()),
              m);
        };
    GenerateRequest.Builder b =
        GenerateRequest.builder(P0).optSteps(3).optSeed(4).optNegativePrompt("blurry");
    BufferedImage hooked = sd.generate(b.optConditioner(other).build()).images().get(0);
    BufferedImage plainOther =
        sd.generate(
                GenerateRequest.builder("a small bird")
                    .optSteps(3)
                    .optSeed(4)
                    .optNegativePrompt("blurry")
                    .build())
            .images()
            .get(0);
    BufferedImage plain = sd.generate(b.optConditioner(Conditioner.PLAIN).build()).images().get(0);
    assertEquals(1, calls.get(), "resolved once per request");
    assertEquals(List.of(List.of("blurry", P0)), rows, "guided rows: negative first, as diffusers");
    assertTrue(samePixels(hooked, plainOther), "the hook's encoding must be what the UNet sees");
    assertTrue(!samePixels(hooked, plain), "another prompt's encoding must change the image");
  }

  /**
   * A method's per-pipeline state: made once, the same instance after, closed with the pipeline.
   */
  @Test
  void extensionsLiveAndCloseWithThePipeline() throws Exception {
    final class Counter implements AutoCloseable {
      int closed;

      @Override
      public void close() {
        closed++;
      }
    }
    Counter c;
    try (StableDiffusionPipeline own = StableDiffusionPipeline.load(ref, EngineOptions.cpu())) {
      c = own.extension(Counter.class, p -> new Counter());
      assertTrue(
          c == own.extension(Counter.class, p -> new Counter()), "one instance per pipeline");
      assertEquals(0, c.closed);
    }
    assertEquals(1, c.closed);
  }
}
