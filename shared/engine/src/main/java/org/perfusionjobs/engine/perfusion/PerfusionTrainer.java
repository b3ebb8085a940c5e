package org.perfusionjobs.engine.perfusion;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.nn.Scalars;
import org.perfusionjobs.engine.pipeline.GenerationCancelledException;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;
import org.perfusionjobs.engine.scheduler.NoiseSchedule;
import org.perfusionjobs.engine.train.AdamW;
import org.perfusionjobs.engine.train.GradientRetry;
import org.perfusionjobs.engine.train.MicroBatches;
import org.perfusionjobs.engine.train.MicroBatches.Batch;
import org.perfusionjobs.engine.vae.DiagonalGaussian;

/**
 * Learns one concept with key-locked gated rank-1 editing (method page, section 5). The base model
 * stays frozen; what trains is one V target per cross-attention layer and the concept word's
 * embedding, through AdamW with one learning rate each. K targets are locked to the superclass;
 * {@code i*} is a running average of the concept token's encoding, updated without gradient.
 *
 * <p>Superclass words the tokenizer splits into several tokens ("bird bath"): the locking target is
 * the encoding of the superclass's <em>last</em> token. The text encoder is causal, so that token
 * is the only one whose encoding has seen the whole word; the concept's own single token sits at
 * the same place in the sentence. Its initial embedding is the mean of the pieces' embeddings.
 *
 * <p>An ablation ({@link #withAblation}) trains without a part of the method: without key-locking
 * the K targets are learned like the V targets; without the gate or Cinv the training edit runs as
 * generation will. The concept records it in its training settings.
 *
 * <p>With a {@link GateScope} other than the paper's (beyond the paper) the training edit is
 * confined as generation will confine it: with {@link GateScope#WORD} to the concept token, so the
 * V targets cannot lean on the words after it.
 *
 * <p>Runs on the calling thread (the model thread). Each pass of micro-batches runs in an {@link
 * NDScope}; the learned values and optimiser moments live in the trainer's own manager.
 */
public final class PerfusionTrainer {
  private final StableDiffusionPipeline sd;
  private final Covariance cov;
  private final String baseModelId;
  private final PerfusionAblation ablation;
  private final long fusedLatentCells;

  public PerfusionTrainer(StableDiffusionPipeline sd, Covariance cov, String baseModelId) {
    this(sd, cov, baseModelId, PerfusionAblation.NONE, MicroBatches.FUSED_LATENT_CELLS);
  }

  private PerfusionTrainer(
      StableDiffusionPipeline sd,
      Covariance cov,
      String baseModelId,
      PerfusionAblation ablation,
      long fusedLatentCells) {
    if (cov.dim() != sd.textEncoder().config().hiddenSize()) {
      throw new IllegalArgumentException(
          "Cinv is "
              + cov.dim()
              + " wide but the text encoder is "
              + sd.textEncoder().config().hiddenSize());
    }
    this.sd = sd;
    this.cov = cov;
    this.baseModelId = baseModelId;
    this.ablation = ablation;
    this.fusedLatentCells = fusedLatentCells;
  }

  /** This trainer with one part of Perfusion left out ({@link PerfusionAblation#NONE}: none). */
  public PerfusionTrainer withAblation(PerfusionAblation a) {
    return new PerfusionTrainer(sd, cov, baseModelId, a, fusedLatentCells);
  }

  /** This trainer with another bound on a pass's latent cells (1: micro-batches one by one). */
  PerfusionTrainer withFusedLatentCells(long cells) {
    return new PerfusionTrainer(sd, cov, baseModelId, ablation, cells);
  }

  /**
   * @param resume a state saved by an earlier run of the same job, or null to start fresh
   * @param onProgress called after every optimiser step
   * @param onCheckpoint called every {@code checkpointEvery} steps with the state to persist
   * @param cancelled checked between steps; a cancelled run throws {@link
   *     GenerationCancelledException}
   */
  public Concept train(
      TrainingImages data,
      TrainingConfig requested,
      TrainerState resume,
      Consumer<TrainProgress> onProgress,
      Consumer<TrainerState> onCheckpoint,
      BooleanSupplier cancelled) {
    TrainingConfig cfg = requested.forImages(data);
    ClipTokenizer tokenizer = PerfusionModel.of(sd).tokenizerWith(List.of(cfg.placeholder()));
    int placeholderId = tokenizer.addedTokenId(cfg.placeholder());
    List<Integer> superIds = sd.tokenizer().idsOfWord(cfg.superclass());
    List<Attention> layers = sd.unet().crossAttentions();
    if (ablation == PerfusionAblation.NO_KEY_LOCK && cfg.learnsKeys()) {
      throw new IllegalArgumentException(
          "keyRate "
              + cfg.keyRate()
              + " conflicts with the no-key-lock ablation, which learns K at the full rate;"
              + " give one of the two");
    }
    try (NDManager m = sd.manager().newSubManager();
        NDScope outer = new NDScope()) {
      outer.suppressNotUsedWarning();
      Latents latents = encodeImages(data, cfg, m);
      Run run = resume != null ? restore(resume, cfg, layers, m) : init(cfg, superIds, layers, m);
      double superEmbeddingNorm =
          cfg.embeddingNormCap() > 0 ? norm(superclassEmbedding(superIds, m)) : 0;
      long start = System.nanoTime();
      int initialStep = run.step;
      NoiseSchedule schedule = NoiseSchedule.of(sd.schedulerConfig());
      for (int step = run.step; step < cfg.steps(); step++) {
        if (cancelled.getAsBoolean()) {
          throw new GenerationCancelledException(step);
        }
        final int at = step;
        StepSums sums =
            GradientRetry.untilFinite(
                step + 1,
                run.adam,
                () -> pass(at, cfg, data, latents, tokenizer, placeholderId, run, schedule, m));
        double lossSum = sums.loss();
        double[] conceptEncodingSum = sums.conceptEncoding();
        int samples = sums.samples();
        run.adam.step();
        if (cfg.embeddingNormCap() > 0) {
          run.capEmbeddingNorm(cfg.embeddingNormCap() * superEmbeddingNorm);
        }
        for (int i = 0; i < run.iStar.length; i++) {
          run.iStar[i] =
              cfg.emaDecay() * run.iStar[i]
                  + (1 - cfg.emaDecay()) * conceptEncodingSum[i] / samples;
        }
        run.step = step + 1;
        run.lastLoss = lossSum / cfg.gradientAccumulation();
        Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
        int done = run.step - initialStep;
        Duration eta = elapsed.dividedBy(done).multipliedBy(cfg.steps() - run.step);
        onProgress.accept(new TrainProgress(run.step, cfg.steps(), run.lastLoss, elapsed, eta));
        if (run.step % cfg.checkpointEvery() == 0 && run.step < cfg.steps()) {
          onCheckpoint.accept(run.toState(cfg));
        }
      }
      Concept c = run.toConcept(cfg, baseModelId, cov.hash());
      return data.captions() == null ? c : c.withTrainingSetting("captions", "per-image");
    }
  }

  /** The sums one step's passes leave: the micro-batches' losses, concept encodings and rows. */
  private record StepSums(double loss, double[] conceptEncoding, int samples) {}

  /**
   * One step's forward and backward passes over its micro-batches (drawn from the step's own seed,
   * so a pass run again draws the same batches); the gradients accumulate in the parameters.
   */
  private StepSums pass(
      int step,
      TrainingConfig cfg,
      TrainingImages data,
      Latents latents,
      ClipTokenizer tokenizer,
      int placeholderId,
      Run run,
      NoiseSchedule schedule,
      NDManager m) {
    SplittableRandom rnd = new SplittableRandom(cfg.seed() * 0x9E3779B97F4A7C15L + step);
    double lossSum = 0;
    double[] conceptEncodingSum = new double[run.iStar.length];
    int samples = 0;
    int perPass = microBatchesPerPass(cfg, latents);
    for (int first = 0; first < cfg.gradientAccumulation(); first += perPass) {
      int group = Math.min(perPass, cfg.gradientAccumulation() - first);
      try (NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        List<Batch> parts = new ArrayList<>();
        for (int g = 0; g < group; g++) {
          parts.add(sampleBatch(cfg, latents, data.captions(), tokenizer, rnd, m));
        }
        Batch batch = Batch.concat(parts);
        NDArray xt = schedule.addNoise(batch.x0(), batch.noise(), batch.timesteps());
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          NDArray text = sd.textEncoder().forward(batch.ids(), run.embedding.get().reshape(1, -1));
          NDArray conceptEnc = conceptEncodings(text, batch.ids(), placeholderId); // (B, D)
          PerfusionProcessor processor =
              new PerfusionProcessor(
                  cov, List.of(run.edit(cfg.trainBeta(), cfg.trainTau())), m, DataType.FLOAT32);
          if (cfg.gateScope() != GateScope.ALL) {
            processor.confine(
                text,
                GateScope.mask(
                    batch.ids(), new long[] {placeholderId}, List.of(cfg.gateScope()), m));
          }
          NDArray pred =
              sd.unet()
                  .forward(
                      xt, m.create(batch.timesteps()), new Conditioning(text, text, processor));
          // Each micro-batch's masked mean, as if it ran alone: (group) losses.
          NDArray loss = MicroBatches.maskedMeans(pred, batch.noise(), batch.mask(), group);
          gc.backward(Scalars.mul(loss.sum(), 1f / cfg.gradientAccumulation()));
          for (float l : loss.toFloatArray()) {
            GradientRetry.requireFiniteLoss("training", step + 1, l);
            lossSum += l;
          }
          float[] enc = conceptEnc.sum(new int[] {0}).toFloatArray();
          for (int i = 0; i < enc.length; i++) {
            conceptEncodingSum[i] += enc[i];
          }
          samples += (int) conceptEnc.getShape().get(0);
        }
      }
    }
    return new StepSums(lossSum, conceptEncodingSum, samples);
  }

  private static double norm(float[] v) {
    double s = 0;
    for (float x : v) {
      s += (double) x * x;
    }
    return Math.sqrt(s);
  }

  /** The concept token's encoding in each row, (B, D). */
  private static NDArray conceptEncodings(NDArray text, NDArray ids, int placeholderId) {
    long[] flat = ids.toLongArray();
    int t = (int) ids.getShape().get(1);
    List<NDArray> rows = new ArrayList<>();
    for (int b = 0; b < ids.getShape().get(0); b++) {
      int pos = -1;
      for (int i = 0; i < t; i++) {
        if (flat[b * t + i] == placeholderId) {
          pos = i;
          break;
        }
      }
      if (pos < 0) {
        throw new IllegalStateException(
            "the placeholder token was truncated away from a training prompt");
      }
      rows.add(text.get(b, pos));
    }
    return NDArrays.stack(new NDList(rows)).stopGradient();
  }

  // --- data -----------------------------------------------------------------------------------

  private record Latents(
      NDArray mean,
      NDArray std,
      NDArray flippedMean,
      NDArray flippedStd,
      NDArray mask,
      NDArray flippedMask) {} // (N,4,h,w) x4, (N,1,h,w) x2

  private Latents encodeImages(TrainingImages data, TrainingConfig cfg, NDManager m) {
    int size = sd.defaultImageSize();
    List<NDArray> pixels = new ArrayList<>();
    List<NDArray> masks = new ArrayList<>();
    int f = sd.vae().config().spatialFactor();
    for (int i = 0; i < data.images().size(); i++) {
      BufferedImage img =
          TrainingImages.fit(data.images().get(i), size, BufferedImage.TYPE_INT_RGB);
      pixels.add(ImageCodec.toTensor(img, m));
      BufferedImage mask = data.masks() == null ? null : data.masks().get(i);
      masks.add(
          mask == null
              ? m.ones(new Shape(1, 1, size / f, size / f))
              : maskTensor(mask, size, f, m, cfg.backgroundWeight()));
    }
    NDArray x = NDArrays.concat(new NDList(pixels));
    NDArray mk = NDArrays.concat(new NDList(masks));
    NDArray xf = x.flip(3);
    float scale = sd.vae().config().scalingFactor();
    DiagonalGaussian d = sd.vae().encode(x);
    DiagonalGaussian df = sd.vae().encode(xf);
    return new Latents(
        d.mean().mul(scale),
        d.std().mul(scale),
        df.mean().mul(scale),
        df.std().mul(scale),
        mk,
        mk.flip(3));
  }

  /**
   * A loss weight per latent cell from the soft mask m (the mean of each f x f cell). With {@code
   * background} = 0 it is m itself, the paper's masked loss: nothing outside the concept counts, so
   * nothing stops extra copies there. With b > 0 the concept and the rest are each averaged over
   * their own area and the rest weighs b against the concept: w = (m / mean(m) + b (1 - m) / mean(1
   * - m)) / (1 + b), whose mean is 1, so a small object keeps its share of the gradient.
   */
  static NDArray maskTensor(BufferedImage mask, int size, int f, NDManager m, float background) {
    BufferedImage g = TrainingImages.fit(mask, size, BufferedImage.TYPE_BYTE_GRAY);
    int n = size / f;
    float[] cells = new float[n * n];
    var raster = g.getRaster();
    for (int y = 0; y < size; y++) {
      for (int x = 0; x < size; x++) {
        cells[(y / f) * n + x / f] += raster.getSample(x, y, 0) / 255f / (f * f);
      }
    }
    if (background > 0) {
      double inside = 0;
      for (float c : cells) {
        inside += c;
      }
      double meanIn = inside / cells.length;
      double meanOut = 1 - meanIn;
      for (int i = 0; i < cells.length; i++) {
        double in = meanIn > 0 ? cells[i] / meanIn : 0;
        double out = meanOut > 0 ? background * (1 - cells[i]) / meanOut : 0;
        cells[i] = (float) ((in + out) / (1 + background));
      }
    }
    return m.create(cells, new Shape(1, 1, n, n));
  }

  private int microBatchesPerPass(TrainingConfig cfg, Latents latents) {
    long cells = latents.mean.getShape().get(2) * latents.mean.getShape().get(3);
    return MicroBatches.perPass(
        cfg.batchSize(), cfg.gradientAccumulation(), cells, fusedLatentCells);
  }

  private Batch sampleBatch(
      TrainingConfig cfg,
      Latents lat,
      List<TrainingImages.ImageCaptions> captions,
      ClipTokenizer tokenizer,
      SplittableRandom rnd,
      NDManager m) {
    int b = cfg.batchSize();
    int n = (int) lat.mean.getShape().get(0);
    List<NDArray> x0 = new ArrayList<>();
    List<NDArray> masks = new ArrayList<>();
    List<String> prompts = new ArrayList<>();
    long[] t = new long[b];
    NoiseGenerator noise = new NoiseGenerator(rnd.nextLong());
    for (int i = 0; i < b; i++) {
      int k = rnd.nextInt(n);
      boolean flip = cfg.randomFlip() && rnd.nextBoolean();
      NDArray mean = (flip ? lat.flippedMean : lat.mean).get(new NDIndex("{}:{}", k, k + 1));
      NDArray std = (flip ? lat.flippedStd : lat.std).get(new NDIndex("{}:{}", k, k + 1));
      x0.add(mean.add(std.mul(noise.normal(mean.getShape(), m))));
      masks.add((flip ? lat.flippedMask : lat.mask).get(new NDIndex("{}:{}", k, k + 1)));
      // Per-image captions when given (describing the image as drawn, mirrored if flipped); the
      // same one draw from rnd either way, so runs without them are unchanged.
      TrainingImages.ImageCaptions own = captions == null ? null : captions.get(k);
      List<String> pool = own == null ? cfg.templates() : flip ? own.mirrored() : own.templates();
      prompts.add(pool.get(rnd.nextInt(pool.size())).replace("{}", cfg.placeholder()));
      t[i] = rnd.nextInt(NoiseSchedule.of(sd.schedulerConfig()).numTrainTimesteps());
    }
    NDArray x = NDArrays.concat(new NDList(x0));
    return new Batch(
        x,
        noise.normal(x.getShape(), m),
        t,
        tokenizer.encode(prompts, m),
        NDArrays.concat(new NDList(masks)));
  }

  // --- learned state --------------------------------------------------------------------------

  private Run init(
      TrainingConfig cfg, List<Integer> superIds, List<Attention> layers, NDManager m) {
    if (superIds.isEmpty()) {
      throw new IllegalArgumentException("superclass '" + cfg.superclass() + "' has no tokens");
    }
    float[] iSuper = superclassEncoding(cfg, superIds, m);
    float[] emb = superclassEmbedding(superIds, m);
    Map<String, float[]> k = new LinkedHashMap<>();
    Map<String, float[]> v = new LinkedHashMap<>();
    try (NDScope s = new NDScope()) {
      s.suppressNotUsedWarning();
      NDArray i = m.create(iSuper).reshape(1, -1);
      for (Attention a : layers) {
        k.put(a.path(), a.toK.forward(i).toFloatArray());
        v.put(a.path(), a.toV.forward(i).toFloatArray());
      }
    }
    Map<String, float[]> zeros = new LinkedHashMap<>();
    Map<String, float[]> zeros2 = new LinkedHashMap<>();
    v.forEach(
        (p, a) -> {
          zeros.put(p, new float[a.length]);
          zeros2.put(p, new float[a.length]);
        });
    TrainerState s =
        new TrainerState(
            cfg.placeholder(),
            cfg.superclass(),
            cfg.seed(),
            0,
            iSuper.clone(),
            iSuper,
            emb,
            new float[emb.length],
            new float[emb.length],
            k,
            v,
            zeros,
            zeros2,
            Map.of(),
            Map.of(),
            Double.NaN);
    return restore(s, cfg, layers, m);
  }

  /** Mean encoding of the superclass's last token over superclass-filled templates. */
  private float[] superclassEncoding(TrainingConfig cfg, List<Integer> superIds, NDManager m) {
    try (NDScope s = new NDScope()) {
      s.suppressNotUsedWarning();
      List<String> prompts = new ArrayList<>();
      for (String tpl : cfg.templates()) {
        prompts.add(tpl.replace("{}", cfg.superclass()));
      }
      NDArray ids = sd.tokenizer().encode(prompts, m);
      NDArray text = sd.textEncoder().forward(ids);
      long[] flat = ids.toLongArray();
      int t = (int) ids.getShape().get(1);
      double[] sum = new double[(int) text.getShape().get(2)];
      for (int b = 0; b < prompts.size(); b++) {
        int pos = lastOccurrence(flat, b * t, t, superIds);
        float[] e = text.get(b, pos).toFloatArray();
        for (int i = 0; i < e.length; i++) {
          sum[i] += e[i] / prompts.size();
        }
      }
      float[] out = new float[sum.length];
      for (int i = 0; i < out.length; i++) {
        out[i] = (float) sum[i];
      }
      return out;
    }
  }

  /** Index of the last token of the superclass's token sequence in one row. */
  private static int lastOccurrence(long[] ids, int offset, int t, List<Integer> seq) {
    for (int i = t - seq.size(); i >= 0; i--) {
      boolean match = true;
      for (int j = 0; j < seq.size() && match; j++) {
        match = ids[offset + i + j] == seq.get(j);
      }
      if (match) {
        return i + seq.size() - 1;
      }
    }
    throw new IllegalStateException("superclass tokens not found in a superclass prompt");
  }

  private float[] superclassEmbedding(List<Integer> superIds, NDManager m) {
    try (NDScope s = new NDScope()) {
      s.suppressNotUsedWarning();
      long[] ids = superIds.stream().mapToLong(Integer::longValue).toArray();
      NDArray rows = sd.textEncoder().tokenEmbeddings(m.create(ids));
      return rows.mean(new int[] {0}).toFloatArray();
    }
  }

  private Run restore(TrainerState s, TrainingConfig cfg, List<Attention> layers, NDManager m) {
    if (!s.placeholder().equals(cfg.placeholder()) || !s.superclass().equals(cfg.superclass())) {
      throw new IllegalArgumentException(
          "checkpoint is for '"
              + s.placeholder()
              + "' ("
              + s.superclass()
              + "), not '"
              + cfg.placeholder()
              + "' ("
              + cfg.superclass()
              + ")");
    }
    for (Attention a : layers) {
      float[] v = s.valueTargets().get(a.path());
      if (v == null || v.length != a.toV.outFeatures) {
        throw new IllegalArgumentException(
            "checkpoint does not match this model's cross-attention layer " + a.path());
      }
    }
    boolean learnsKeys = keyRate(ablation, cfg) > 0;
    if (s.completedSteps() > 0 && learnsKeys == s.keyM().isEmpty()) {
      throw new IllegalArgumentException(
          "checkpoint was saved by a run with "
              + (learnsKeys ? "locked" : "learned")
              + " K targets, this run "
              + (learnsKeys ? "learns" : "locks")
              + " them; resume it with the key settings it was started with");
    }
    return new Run(s, cfg, ablation, m);
  }

  /**
   * The K targets' learning-rate scale against the V targets': 1 for the no-key-lock ablation, the
   * config's key rate otherwise; 0 is the paper's locked key (no K parameter at all).
   */
  public static float keyRate(PerfusionAblation ablation, TrainingConfig cfg) {
    return ablation == PerfusionAblation.NO_KEY_LOCK ? 1f : cfg.keyRate();
  }

  /**
   * The mutable learned state of a run: the V targets and the embedding as parameters of one {@link
   * AdamW} (two learning rates through its per-parameter rate scale), the locked K targets and i*,
   * all in the trainer's manager. Where K is learned (the no-key-lock ablation at the V targets'
   * rate, a softly locked key at {@link TrainingConfig#keyRate} times it) the K targets are
   * parameters of the same AdamW, between the V targets and the embedding.
   */
  private static final class Run {
    final float[] iSuper;
    final double[] iStar;
    final Map<String, NDArray> keyTargets = new LinkedHashMap<>(); // fixed
    final Map<String, Parameter> learnedKeys = new LinkedHashMap<>(); // learned K only
    final PerfusionAblation ablation;
    final Map<String, Parameter> valueTargets = new LinkedHashMap<>(); // learned
    final Parameter embedding; // (D), learned
    final AdamW adam;

    int step;
    double lastLoss;

    Run(TrainerState s, TrainingConfig cfg, PerfusionAblation ablation, NDManager m) {
      this.ablation = ablation;
      this.iSuper = s.iSuper();
      this.iStar = new double[s.iStar().length];
      for (int i = 0; i < iStar.length; i++) {
        iStar[i] = s.iStar()[i];
      }
      s.keyTargets().forEach((p, v) -> keyTargets.put(p, keep(m.create(v))));
      List<Parameter> params = new ArrayList<>();
      List<float[]> first = new ArrayList<>();
      List<float[]> second = new ArrayList<>();
      s.valueTargets()
          .forEach(
              (p, v) -> {
                Parameter param = Parameter.of(p, keep(m.create(v)));
                valueTargets.put(p, param);
                params.add(param);
                first.add(s.valueM().get(p));
                second.add(s.valueV().get(p));
              });
      float keyRate = keyRate(ablation, cfg);
      if (keyRate > 0) { // K trained from the locked start
        s.keyTargets()
            .forEach(
                (p, k) -> {
                  Parameter param = Parameter.of("k." + p, keep(m.create(k)));
                  learnedKeys.put(p, param);
                  params.add(param);
                  first.add(s.keyM().getOrDefault(p, new float[k.length]));
                  second.add(s.keyV().getOrDefault(p, new float[k.length]));
                });
      }
      embedding = Parameter.of("embedding", keep(m.create(s.embedding())));
      params.add(embedding);
      first.add(s.embeddingM());
      second.add(s.embeddingV());
      float[] rateScale = new float[params.size()];
      Arrays.fill(rateScale, 1f);
      rateScale[rateScale.length - 1] = cfg.embeddingLearningRate() / cfg.valueLearningRate();
      Arrays.fill(
          rateScale, valueTargets.size(), valueTargets.size() + learnedKeys.size(), keyRate);
      adam = new AdamW(params, rateScale, cfg.valueLearningRate(), cfg.weightDecay());
      adam.resume(s.completedSteps(), first, second);
      step = s.completedSteps();
      lastLoss = s.lastLoss();
    }

    private static NDArray keep(NDArray a) {
      NDScope.unregister(a);
      return a;
    }

    /**
     * Scales the word embedding back to norm {@code bound} when it is longer (a projection after
     * the optimiser step; the optimiser's moments stay as they are).
     */
    void capEmbeddingNorm(double bound) {
      NDArray e = embedding.get();
      double norm = e.norm().getFloat();
      if (norm > bound) {
        NDArray fresh = keep(e.mul((float) (bound / norm)).stopGradient());
        fresh.setRequiresGradient(true);
        embedding.set(fresh);
      }
    }

    ConceptEdit edit(float beta, float tau) {
      Map<String, NDArray> v = new LinkedHashMap<>();
      valueTargets.forEach((p, param) -> v.put(p, param.get()));
      return new ConceptEdit(iStar.clone(), keys(), v, beta, tau, ablation);
    }

    /** The K targets: the locked ones, or without key-locking the learned ones' current values. */
    Map<String, NDArray> keys() {
      if (learnedKeys.isEmpty()) {
        return keyTargets;
      }
      Map<String, NDArray> k = new LinkedHashMap<>();
      learnedKeys.forEach((p, param) -> k.put(p, param.get()));
      return k;
    }

    TrainerState toState(TrainingConfig cfg) {
      float[] is = new float[iStar.length];
      for (int i = 0; i < is.length; i++) {
        is[i] = (float) iStar[i];
      }
      Map<String, float[]> values = new LinkedHashMap<>();
      Map<String, float[]> valueM = new LinkedHashMap<>();
      Map<String, float[]> valueV = new LinkedHashMap<>();
      int i = 0;
      for (Map.Entry<String, Parameter> e : valueTargets.entrySet()) {
        values.put(e.getKey(), e.getValue().get().toFloatArray());
        valueM.put(e.getKey(), adam.firstMoment(i).toFloatArray());
        valueV.put(e.getKey(), adam.secondMoment(i).toFloatArray());
        i++;
      }
      Map<String, float[]> keyM = new LinkedHashMap<>();
      Map<String, float[]> keyV = new LinkedHashMap<>();
      for (String p : learnedKeys.keySet()) {
        keyM.put(p, adam.firstMoment(i).toFloatArray());
        keyV.put(p, adam.secondMoment(i).toFloatArray());
        i++;
      } // the embedding is the last parameter
      return new TrainerState(
          cfg.placeholder(),
          cfg.superclass(),
          cfg.seed(),
          step,
          is,
          iSuper,
          embedding.get().toFloatArray(),
          adam.firstMoment(i).toFloatArray(),
          adam.secondMoment(i).toFloatArray(),
          host(keys()),
          values,
          valueM,
          valueV,
          keyM,
          keyV,
          lastLoss);
    }

    Concept toConcept(TrainingConfig cfg, String baseModelId, String cinvHash) {
      TrainerState s = toState(cfg);
      Map<String, String> settings = new LinkedHashMap<>(cfg.describe());
      settings.put("final_loss", Double.toString(lastLoss));
      if (ablation != PerfusionAblation.NONE) {
        settings.put(PerfusionAblation.SETTING, ablation.word());
      }
      return new Concept(
          cfg.placeholder(),
          cfg.superclass(),
          baseModelId,
          cinvHash,
          cfg.inferenceBeta(),
          cfg.inferenceTau(),
          s.iStar(),
          s.embedding(),
          s.keyTargets(),
          s.valueTargets(),
          settings);
    }

    private static Map<String, float[]> host(Map<String, NDArray> arrays) {
      Map<String, float[]> out = new LinkedHashMap<>();
      arrays.forEach((p, a) -> out.put(p, a.toFloatArray()));
      return out;
    }
  }
}
