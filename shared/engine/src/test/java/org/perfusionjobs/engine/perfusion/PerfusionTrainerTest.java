package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.TrainingSquares;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerationCancelledException;
import org.perfusionjobs.engine.pipeline.PromptBatch;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.train.MicroBatches;

/** Perfusion training and use on the tiny reference model (random weights, 32x32 images). */
class PerfusionTrainerTest {
  static StableDiffusionPipeline sd;
  static PerfusionModel perfusion;
  static TrainingImages square;
  @TempDir Path dir;

  @BeforeAll
  static void setUp() throws Exception {
    sd = TinyModel.pipeline();
    perfusion = PerfusionModel.of(sd);
    square =
        new TrainingImages(
            TinyModel.images(4, Color.RED, false), TinyModel.images(4, Color.RED, true));
  }

  static TrainingConfig quick(String word, String superclass, int steps) {
    return TrainingConfig.defaults(word, superclass)
        .withSteps(steps)
        .withBatch(2, 2)
        .withSeed(7)
        .withCheckpointEvery(1);
  }

  static Concept train(
      TrainingConfig cfg, List<TrainProgress> progress, List<TrainerState> states) {
    return perfusion.trainer().train(square, cfg, null, progress::add, states::add, () -> false);
  }

  /**
   * tokenGates: the prompt's own row (not the unconditional one), s(e) against a direct Cinv
   * computation, the gate's formula.
   */
  @Test
  void tokenGatesMatchADirectComputation() {
    Concept c = train(quick("zwx", "car", 3), new ArrayList<>(), new ArrayList<>());
    String prompt = "a photo of a zwx";
    TokenGates g = perfusion.tokenGates(prompt, List.of(new ConceptUse(c, 0.6f, 0.2f)));
    ClipTokenizer tok = sd.tokenizer().withAddedTokens(List.of("zwx"));
    assertEquals(tok.maxLength(), g.tokens().size());
    assertEquals("<start>", g.tokens().get(0));
    int at = g.tokens().indexOf("zwx");
    assertTrue(at > 0, g.tokens().toString());
    try (NDManager m = sd.manager().newSubManager()) {
      NDArray added = m.create(c.embedding(), new Shape(1, c.embedding().length));
      float[] e =
          sd.textEncoder().forward(tok.encode(List.of(prompt), m), added).get(0, at).toFloatArray();
      double[] iStar = new double[c.iStar().length];
      double[] enc = new double[e.length];
      for (int i = 0; i < e.length; i++) {
        iStar[i] = c.iStar()[i];
        enc[i] = e[i];
      }
      double[] u = perfusion.covariance().apply(iStar);
      double expected = DenseMath.dot(enc, u) / DenseMath.dot(iStar, u);
      assertEquals(expected, g.similarity()[at][0], 1e-3 * Math.max(1, Math.abs(expected)));
    }
    for (int i = 0; i < g.tokens().size(); i++) {
      double gate = 1 / (1 + Math.exp(-(g.similarity()[i][0] - 0.6) / 0.2));
      assertEquals(gate, g.gates()[i][0], 1e-4, "token " + i);
    }
    assertThrows(IllegalArgumentException.class, () -> perfusion.tokenGates(prompt, List.of()));
  }

  /**
   * --embedding-norm-cap: the trained word embedding ends within cap x the norm of the superclass's
   * embedding (the mean of its tokens' rows, read here from the text encoder's table in double
   * precision), while the same run without the cap ends beyond it, so the bound is the cap's doing.
   * Tolerance 1e-4 relative (fp32 norms).
   */
  @Test
  void embeddingNormCapBoundsTheWordEmbedding() {
    float cap = 1.0f;
    TrainingConfig cfg = quick("zwx", "car", 12).withLearningRates(0.03f, 0.2f);
    Concept free = train(cfg, new ArrayList<>(), new ArrayList<>());
    Concept capped = train(cfg.withEmbeddingNormCap(cap), new ArrayList<>(), new ArrayList<>());
    List<Integer> ids = sd.tokenizer().idsOfWord("car");
    float[] table =
        sd.textEncoder().textModel.embeddings.tokenEmbedding.weight.get().toFloatArray();
    int dim = free.embedding().length;
    double[] mean = new double[dim];
    for (int id : ids) {
      for (int i = 0; i < dim; i++) {
        mean[i] += table[id * dim + i] / (double) ids.size();
      }
    }
    double bound = 0;
    for (double x : mean) {
      bound += x * x;
    }
    bound = cap * Math.sqrt(bound);
    assertTrue(
        norm(capped.embedding()) <= bound * (1 + 1e-4), norm(capped.embedding()) + " > " + bound);
    assertTrue(norm(free.embedding()) > bound * 1.05, "the uncapped run stays within the bound");
    assertEquals("1.0", capped.trainingSettings().get("embedding_norm_cap"));
    assertFalse(free.trainingSettings().containsKey("embedding_norm_cap"));
  }

  /**
   * --gate-scope word in training: the mask is 1 exactly where the tokenizer put the concept's
   * token (found here by scanning its ids), and the confined run learns other V targets than the
   * paper's from the same seed (without the confinement reaching the trainer the two runs are
   * bit-identical), and records its scope.
   */
  @Test
  void wordScopeConfinesTheTrainingEdit() {
    ClipTokenizer tok = sd.tokenizer().withAddedTokens(List.of("zwx"));
    int id = tok.addedTokenId("zwx");
    try (NDManager nd = NDManager.newBaseManager()) {
      NDArray ids = tok.encode(List.of("a zwx and a zwx", "a photo of a zwx"), nd);
      long[] flat = ids.toLongArray();
      NDArray confined = GateScope.mask(ids, new long[] {id}, List.of(GateScope.WORD), nd);
      float[] mask = confined.toFloatArray();
      assertEquals(new Shape(2, ids.getShape().get(1), 1), confined.getShape());
      int ones = 0;
      for (int i = 0; i < flat.length; i++) {
        assertEquals(flat[i] == id ? 1f : 0f, mask[i], "token " + i);
        ones += (int) mask[i];
      }
      assertEquals(3, ones, "two words in the first prompt, one in the second");
    }
    TrainingConfig cfg = quick("zwx", "car", 2);
    Concept all = train(cfg, new ArrayList<>(), new ArrayList<>());
    Concept word = train(cfg.withGateScope(GateScope.WORD), new ArrayList<>(), new ArrayList<>());
    String layer = all.valueTargets().keySet().iterator().next();
    assertFalse(
        Arrays.equals(all.valueTargets().get(layer), word.valueTargets().get(layer)),
        "the confinement does not reach training");
    assertEquals("word", word.trainingSettings().get(GateScope.KEY));
    assertFalse(all.trainingSettings().containsKey(GateScope.KEY));
    assertEquals(GateScope.WORD, GateScope.of(word));
  }

  /**
   * --background-weight b: an 8x8 mask whose left 3 columns are white, at latent factor 2, gives
   * cells m = 1 (first column), 0.5 (second), 0 (the rest): mean(m) = 1.5/4 = 0.375. b = 0 is the
   * paper's mask itself; b > 0 is w = (m / 0.375 + b (1 - m) / 0.625) / (1 + b), computed here by
   * hand, whose mean is 1 and whose concept cells carry a 1 / (1 + b) share of the total weight.
   * Tolerance 1e-5.
   */
  @Test
  void backgroundWeightBalancesTheConceptAgainstTheRest() {
    BufferedImage mask = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 0; y < 8; y++) {
      for (int x = 0; x < 3; x++) {
        mask.getRaster().setSample(x, y, 0, 255);
      }
    }
    float[] m = {1f, 0.5f, 0f, 0f};
    try (NDManager nd = NDManager.newBaseManager()) {
      for (float b : new float[] {0f, 0.3f, 1f}) {
        float[] w = PerfusionTrainer.maskTensor(mask, 8, 2, nd, b).toFloatArray();
        assertEquals(16, w.length);
        double sum = 0;
        double inside = 0;
        for (int row = 0; row < 4; row++) {
          for (int col = 0; col < 4; col++) {
            double expected =
                b == 0 ? m[col] : (m[col] / 0.375 + b * (1 - m[col]) / 0.625) / (1 + b);
            assertEquals(expected, w[row * 4 + col], 1e-5, "b " + b + " cell " + row + col);
            sum += w[row * 4 + col];
            inside += (m[col] / 0.375) / (1 + b); // the concept term of w
          }
        }
        if (b > 0) {
          assertEquals(16, sum, 1e-4, "mean weight 1");
          assertEquals(1 / (1 + b), inside / sum, 1e-5, "the concept's share");
        }
      }
    }
    TrainingConfig cfg = TrainingConfig.defaults("zwx", "car");
    assertEquals(0f, cfg.backgroundWeight(), "the paper's masked loss by default");
    assertEquals("0.3", cfg.withBackgroundWeight(0.3f).describe().get("background_weight"));
    assertThrows(IllegalArgumentException.class, () -> cfg.withBackgroundWeight(1.5f));
  }

  /**
   * --ema-decay d: i* after one step is d i_super + (1 - d) m, m the step's mean encoding of the
   * word (the same draws at every d). Runs at d = 0 and 0.5 give m and i_super = 2 i*(0.5) - m; the
   * run at 0.9 must be their mix with weights 0.9 / 0.1 (1e-5 of the norm: fp32 sums).
   * --train-beta: a gate shut by beta 2 changes the first step's loss, so the trainer reads it.
   */
  @Test
  void emaDecayAndTrainingGateReachTheRun() {
    float[][] iStar = new float[3][];
    float[] decays = {0f, 0.5f, 0.9f};
    for (int k = 0; k < 3; k++) {
      iStar[k] =
          train(
                  quick("zwx", "car", 1).withEmaDecay(decays[k]),
                  new ArrayList<>(),
                  new ArrayList<>())
              .iStar();
    }
    double scale = norm(iStar[0]);
    for (int i = 0; i < iStar[0].length; i++) {
      double iSuper = 2.0 * iStar[1][i] - iStar[0][i];
      double expected = 0.9 * iSuper + 0.1 * iStar[0][i];
      assertEquals(expected, iStar[2][i], 1e-5 * scale, "i*[" + i + "] at decay 0.9");
    }
    assertFalse(Arrays.equals(iStar[0], iStar[1]), "the decay must change i*");

    List<TrainProgress> paper = new ArrayList<>();
    List<TrainProgress> shut = new ArrayList<>();
    train(quick("zwx", "car", 1), paper, new ArrayList<>());
    train(quick("zwx", "car", 1).withTrainingGate(2f, 0.1f), shut, new ArrayList<>());
    assertTrue(
        Math.abs(paper.get(0).loss() - shut.get(0).loss()) > 1e-4 * paper.get(0).loss(),
        "a shut training gate must change the loss: "
            + paper.get(0).loss()
            + " vs "
            + shut.get(0).loss());
    TrainingConfig cfg = TrainingConfig.defaults("zwx", "car").withTrainingGate(0.9f, 0.2f);
    assertEquals("0.9", cfg.describe().get("train_beta"));
    assertEquals("0.2", cfg.describe().get("train_tau"));
    assertEquals("0.9", cfg.withEmaDecay(0.9f).describe().get("ema_decay"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> cfg.withEmaDecay(1f));
    assertTrue(e.getMessage().startsWith("emaDecay"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> cfg.withTrainingGate(-0.1f, 0.1f));
  }

  private static double norm(float[] v) {
    double s = 0;
    for (float x : v) {
      s += (double) x * x;
    }
    return Math.sqrt(s);
  }

  @Test
  void trainingLossFalls() {
    List<TrainProgress> p = new ArrayList<>();
    train(quick("zwx", "car", 40).withLearningRates(0.05f, 0.01f), p, new ArrayList<>());
    assertEquals(40, p.size());
    double first =
        p.subList(0, 10).stream().mapToDouble(TrainProgress::loss).average().orElseThrow();
    double last =
        p.subList(30, 40).stream().mapToDouble(TrainProgress::loss).average().orElseThrow();
    assertTrue(
        last < first,
        "mean loss of steps 31-40 (" + last + ") must be below steps 1-10 (" + first + ")");
    assertEquals(40, p.get(39).step());
    assertEquals(0, p.get(39).eta().toMillis());
  }

  @Test
  void onlyValueTargetsAndEmbeddingChange() {
    Map<String, float[]> before = snapshot();
    List<TrainerState> states = new ArrayList<>();
    Concept c = train(quick("zwx", "car", 3), new ArrayList<>(), states);
    Map<String, float[]> after = snapshot();
    assertEquals(before.keySet(), after.keySet());
    before.forEach((k, v) -> assertArrayEquals(v, after.get(k), "base weight " + k + " changed"));
    // States after steps 1 and 2 (checkpointEvery 1), then the final concept.
    assertEquals(2, states.size());
    TrainerState s1 = states.get(0);
    for (String layer : c.keyTargets().keySet()) {
      assertArrayEquals(
          s1.keyTargets().get(layer),
          c.keyTargets().get(layer),
          "K target of " + layer + " must stay locked");
      assertFalse(
          Arrays.equals(s1.valueTargets().get(layer), c.valueTargets().get(layer)),
          "V target of " + layer + " must train");
    }
    assertFalse(Arrays.equals(s1.embedding(), c.embedding()), "the embedding must train");
    assertFalse(Arrays.equals(s1.iStar(), c.iStar()), "i* must follow its running average");
  }

  @Test
  void gradientsReachTheEmbeddingThroughTheFrozenEncoder() {
    ClipTokenizer tok = sd.tokenizer().withAddedTokens(List.of("zwx"));
    try (NDManager m = sd.manager().newSubManager()) {
      int d = sd.textEncoder().config().hiddenSize();
      NDArray emb = m.randomNormal(new Shape(1, d));
      emb.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        NDArray text = sd.textEncoder().forward(tok.encode(List.of("a photo of a zwx"), m), emb);
        NDArray out =
            sd.unet()
                .forward(
                    m.randomNormal(new Shape(1, 4, 16, 16)), m.create(500L), Conditioning.of(text));
        gc.backward(out.square().mean());
      }
      float g = emb.getGradient().abs().sum().getFloat();
      assertTrue(g > 0 && Float.isFinite(g), "embedding gradient " + g);
      for (Parameter p : sd.textEncoder().namedParameters().values()) {
        assertFalse(p.get().hasGradient(), "frozen text encoder weights must not carry gradients");
      }
    }
  }

  /**
   * A step's micro-batches run through the model in one pass (or in uneven groups) train the
   * concept that running them one by one trains: the same draws, each micro-batch's own masked mean
   * in the loss. Tolerance: fp32 rounding of differently blocked GEMMs, through 3 AdamW steps.
   */
  @Test
  void fusedMicroBatchesTrainWhatOneByOneTrains() {
    TrainingConfig cfg = quick("zwx", "car", 3).withBatch(2, 3).withCheckpointEvery(100);
    // Squares of four sizes: each micro-batch's mask sums differently, so a loss normalised over
    // the whole pass instead of per micro-batch would show.
    TrainingImages sizes = TrainingSquares.ofSides(6, 11, 16, 21);
    List<TrainProgress> oneByOne = new ArrayList<>();
    Concept reference =
        perfusion
            .trainer()
            .withFusedLatentCells(1)
            .train(sizes, cfg, null, oneByOne::add, s -> {}, () -> false);
    long side = sd.unet().config().sampleSize();
    long cells = side * side * 2; // one micro-batch of the tiny model's latents
    for (long limit : new long[] {2 * cells, MicroBatches.FUSED_LATENT_CELLS}) {
      List<TrainProgress> fused = new ArrayList<>();
      Concept c =
          perfusion
              .trainer()
              .withFusedLatentCells(limit)
              .train(sizes, cfg, null, fused::add, s -> {}, () -> false);
      for (int i = 0; i < fused.size(); i++) {
        assertEquals(oneByOne.get(i).loss(), fused.get(i).loss(), 1e-5, "loss of step " + i);
      }
      for (String layer : reference.valueTargets().keySet()) {
        assertArrayEquals(
            reference.valueTargets().get(layer), c.valueTargets().get(layer), 1e-4f, layer);
      }
      assertArrayEquals(reference.embedding(), c.embedding(), 1e-4f);
      assertArrayEquals(reference.iStar(), c.iStar(), 1e-4f);
    }
  }

  @Test
  void resumedRunEqualsUninterruptedRun() {
    Concept straight =
        train(
            quick("zwx", "car", 4).withCheckpointEvery(100), new ArrayList<>(), new ArrayList<>());
    List<TrainerState> states = new ArrayList<>();
    train(quick("zwx", "car", 4).withCheckpointEvery(2), new ArrayList<>(), states);
    TrainerState half = states.get(0);
    assertEquals(2, half.completedSteps());
    Concept resumed =
        perfusion
            .trainer()
            .train(square, quick("zwx", "car", 4), roundTrip(half), p -> {}, s -> {}, () -> false);
    for (String layer : straight.valueTargets().keySet()) {
      assertArrayEquals(
          straight.valueTargets().get(layer), resumed.valueTargets().get(layer), 1e-6f, layer);
    }
    assertArrayEquals(straight.embedding(), resumed.embedding(), 1e-6f);
  }

  @Test
  void cancellationStopsBetweenSteps() {
    List<TrainProgress> p = new ArrayList<>();
    GenerationCancelledException e =
        assertThrows(
            GenerationCancelledException.class,
            () ->
                perfusion
                    .trainer()
                    .train(
                        square,
                        quick("zwx", "car", 10),
                        null,
                        p::add,
                        s -> {},
                        () -> p.size() >= 2));
    assertEquals(2, e.completedSteps());
  }

  /**
   * The K targets of a superclass the tokenizer splits ("birds") are W_k times the mean encoding of
   * its last piece, computed here by hand: positions from the prefix's token count, a separate
   * text-encoder pass, a host matrix product. Locking on the first piece would differ by far more
   * than the tolerance (asserted, so the test can tell the two apart).
   */
  @Test
  void multiTokenSuperclassLocksOnItsLastToken() {
    List<String> pieces = sd.tokenizer().tokens("birds");
    assertTrue(pieces.size() > 1, "'birds' must split for this test to mean anything: " + pieces);
    List<String> prefixes = List.of("a photo of a", "the drawing of my small");
    List<String> templates = prefixes.stream().map(p -> p + " {}").toList();
    Concept c =
        train(
            quick("zwx", "birds", 1).withTemplates(templates),
            new ArrayList<>(),
            new ArrayList<>());

    int d = sd.textEncoder().config().hiddenSize();
    double[] lastPiece = new double[d];
    double[] firstPiece = new double[d];
    try (NDManager m = sd.manager().newSubManager()) {
      for (String prefix : prefixes) {
        int first = 1 + sd.tokenizer().tokens(prefix).size(); // after <start> and the prefix
        int last = first + pieces.size() - 1;
        NDArray text =
            sd.textEncoder().forward(sd.tokenizer().encode(List.of(prefix + " birds"), m));
        float[] eLast = text.get(0, last).toFloatArray();
        float[] eFirst = text.get(0, first).toFloatArray();
        for (int i = 0; i < d; i++) {
          lastPiece[i] += eLast[i] / prefixes.size();
          firstPiece[i] += eFirst[i] / prefixes.size();
        }
      }
    }
    for (var attn : sd.unet().crossAttentions()) {
      double[] expected =
          matVec(attn.toK.weight.get().toFloatArray(), attn.toK.outFeatures, lastPiece);
      double[] wrong =
          matVec(attn.toK.weight.get().toFloatArray(), attn.toK.outFeatures, firstPiece);
      float[] actual = c.keyTargets().get(attn.path());
      double scale = maxAbs(expected);
      assertTrue(
          maxAbsDiff(expected, wrong) > 1e-2 * scale,
          "first and last piece must differ at " + attn.path());
      assertTrue(
          maxAbsDiff(expected, actual) < 1e-4 * scale,
          "K target of " + attn.path() + " off by " + maxAbsDiff(expected, actual));
    }
  }

  /**
   * Global key-locking: the K path's input is the encoding of the prompt with the concept word
   * replaced by its superclass, checked against a separate text-encoder pass of that sentence
   * written out by hand; the V path sees the concept's own token. Guided, so the unconditional row
   * is checked too.
   */
  @Test
  void globalLockFeedsTheKeyPathTheSuperclassPrompt() {
    Concept c = train(quick("zwx", "car", 1), new ArrayList<>(), new ArrayList<>());
    List<ConceptUse> uses = List.of(ConceptUse.of(c));
    PromptBatch batch = new PromptBatch("a photo of my ZWX, zwxy and zwx", "", 1, true);
    try (NDManager m = sd.manager().newSubManager()) {
      Conditioning locked = perfusion.conditioner(uses, true).condition(sd, batch, m);
      Conditioning local = perfusion.conditioner(uses, false).condition(sd, batch, m);
      NDArray expectedKeys =
          sd.textEncoder()
              .forward(sd.tokenizer().encode(List.of("", "a photo of my car, zwxy and car"), m));
      assertTrue(
          locked.keyStates().sub(expectedKeys).abs().max().getFloat() < 1e-5f,
          "K input must be the superclass prompt's encoding");
      ClipTokenizer tok = sd.tokenizer().withAddedTokens(List.of("zwx"));
      NDArray added = m.create(c.embedding(), new Shape(1, c.embedding().length));
      NDArray expectedValues = sd.textEncoder().forward(tok.encode(batch.rows(), m), added);
      assertTrue(
          locked.valueStates().sub(expectedValues).abs().max().getFloat() < 1e-5f,
          "V input must be the real prompt's encoding");
      assertTrue(
          locked.keyStates().sub(locked.valueStates()).abs().max().getFloat() > 1e-2f,
          "the two paths must differ");
      assertSame(
          local.keyStates(), local.valueStates(), "local locking: one encoding for both paths");
    }
  }

  private static double[] matVec(float[] w, int rows, double[] x) {
    int cols = x.length;
    double[] out = new double[rows];
    for (int r = 0; r < rows; r++) {
      for (int k = 0; k < cols; k++) {
        out[r] += w[r * cols + k] * x[k];
      }
    }
    return out;
  }

  private static double maxAbs(double[] a) {
    double m = 0;
    for (double v : a) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  private static double maxAbsDiff(double[] a, double[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  private static double maxAbsDiff(double[] a, float[] b) {
    assertEquals(a.length, b.length);
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  @Test
  void conceptFileRoundTripsAndConceptsApplyAtGeneration() throws Exception {
    Concept a = train(quick("zwx", "car", 2), new ArrayList<>(), new ArrayList<>());
    Path file = dir.resolve("zwx.safetensors");
    ConceptFile.write(a, file);
    Concept back = ConceptFile.read(file);
    assertEquals(a.placeholder(), back.placeholder());
    assertEquals(a.cinvHash(), back.cinvHash());
    assertEquals(a.trainingSettings(), back.trainingSettings());
    assertArrayEquals(a.iStar(), back.iStar());
    a.valueTargets().forEach((k, v) -> assertArrayEquals(v, back.valueTargets().get(k)));

    Concept b = train(quick("sks", "bird", 2), new ArrayList<>(), new ArrayList<>());
    GenerateRequest.Builder req =
        GenerateRequest.builder("a photo of my zwx on the beach with a sks").optSteps(3).optSeed(9);
    BufferedImage plain = sd.generate(req.build()).images().get(0);
    List<ConceptUse> uses = List.of(ConceptUse.of(back), new ConceptUse(b, 0.6f, 0.2f));
    BufferedImage two =
        sd.generate(req.optConditioner(perfusion.conditioner(uses, false)).build()).images().get(0);
    BufferedImage global =
        sd.generate(req.optConditioner(perfusion.conditioner(uses, true)).build()).images().get(0);
    BufferedImage plainAgain =
        sd.generate(req.optConditioner(perfusion.conditioner(List.of(), false)).build())
            .images()
            .get(0);
    assertFalse(same(plain, two), "concepts must change the image");
    assertFalse(same(two, global), "global locking must change the image");
    assertTrue(
        same(plain, plainAgain), "with no concept the model must be exactly the plain model");
  }

  @Test
  void conceptFromAnotherCinvIsRefused() {
    Concept a = train(quick("zwx", "car", 1), new ArrayList<>(), new ArrayList<>());
    Concept foreign =
        new Concept(
            a.placeholder(),
            a.superclass(),
            a.baseModelId(),
            "0".repeat(64),
            a.defaultBeta(),
            a.defaultTau(),
            a.iStar(),
            a.embedding(),
            a.keyTargets(),
            a.valueTargets(),
            a.trainingSettings());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                sd.generate(
                    GenerateRequest.builder("a zwx")
                        .optSteps(1)
                        .optConditioner(
                            perfusion.conditioner(List.of(ConceptUse.of(foreign)), false))
                        .build()));
    assertTrue(
        e.getMessage().contains("Cinv") && e.getMessage().contains("000000000000"), e.getMessage());
  }

  @Test
  void sd15ConceptFileIsAbout106KB() throws Exception {
    // 16 layers of widths 320 x5, 640 x5, 1280 x6 (both K and V), i* and embedding of 768.
    int[] widths = {
      320, 320, 320, 320, 320, 640, 640, 640, 640, 640, 1280, 1280, 1280, 1280, 1280, 1280
    };
    Map<String, float[]> k = new LinkedHashMap<>();
    Map<String, float[]> v = new LinkedHashMap<>();
    for (int i = 0; i < widths.length; i++) {
      k.put("layer" + i + ".attn2", new float[widths[i]]);
      v.put("layer" + i + ".attn2", new float[widths[i]]);
    }
    Concept c =
        new Concept(
            "zwx",
            "teddy",
            "sd1:x",
            "h",
            0.7f,
            0.15f,
            new float[768],
            new float[768],
            k,
            v,
            TrainingConfig.defaults("zwx", "teddy").describe());
    assertEquals(26_496, c.floatCount());
    Path file = dir.resolve("sd15.safetensors");
    ConceptFile.write(c, file);
    long size = Files.size(file);
    assertTrue(size >= 105_984 && size < 112_000, "size " + size);
  }

  private static TrainerState roundTrip(TrainerState s) {
    try {
      return TrainerState.fromBytes(s.toBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Map<String, float[]> snapshot() {
    Map<String, float[]> out = new LinkedHashMap<>();
    sd.unet()
        .namedParameters()
        .forEach(
            (k, p) -> out.put("unet." + k, p.get().toType(DataType.FLOAT32, false).toFloatArray()));
    sd.textEncoder()
        .namedParameters()
        .forEach((k, p) -> out.put("text." + k, p.get().toFloatArray()));
    sd.vae().namedParameters().forEach((k, p) -> out.put("vae." + k, p.get().toFloatArray()));
    return out;
  }

  private static boolean same(BufferedImage a, BufferedImage b) {
    for (int y = 0; y < a.getHeight(); y++) {
      for (int x = 0; x < a.getWidth(); x++) {
        if (a.getRGB(x, y) != b.getRGB(x, y)) {
          return false;
        }
      }
    }
    return true;
  }
}
