package org.perfusionjobs.engine.personalization;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.nn.Scalars;
import org.perfusionjobs.engine.nn.WeightEdits;
import org.perfusionjobs.engine.perfusion.TrainProgress;
import org.perfusionjobs.engine.perfusion.TrainingConfig;
import org.perfusionjobs.engine.perfusion.TrainingImages;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
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
 * The training loop every baseline shares, built like Perfusion's trainer so that the comparison is
 * fair: the same VAE-encoded images and soft masks (latents sampled from the posterior, random
 * horizontal flips), prompts from the same templates, uniform timesteps, the masked
 * epsilon-prediction loss, AdamW with Perfusion's weight decay, steps x accumulation x batch. What
 * differs is what trains ({@link BaselineMethod#init}) and, for DreamBooth, a prior-preservation
 * term: a batch of superclass images the base model drew at the start, unmasked, with superclass
 * prompts, weighted by {@link BaselineConfig#priorLossWeight}. A step's micro-batches (and their
 * prior batches) run through the model several at a time, as Perfusion's ({@link MicroBatches}).
 *
 * <p>The base model is never written: trained weights are separate {@link Parameter}s that reach
 * the UNet through {@code Conditioning}'s weight edits and the text encoder through its added-token
 * embeddings.
 */
public final class BaselineTrainer {
  private final StableDiffusionPipeline sd;
  private final long fusedLatentCells;

  public BaselineTrainer(StableDiffusionPipeline sd) {
    this(sd, MicroBatches.FUSED_LATENT_CELLS);
  }

  private BaselineTrainer(StableDiffusionPipeline sd, long fusedLatentCells) {
    this.sd = sd;
    this.fusedLatentCells = fusedLatentCells;
  }

  /**
   * This trainer with another bound on a pass's latent cells ({@link MicroBatches}; 1: the
   * micro-batches one by one).
   */
  BaselineTrainer withFusedLatentCells(long cells) {
    return new BaselineTrainer(sd, cells);
  }

  /**
   * What a run made, and what it cost.
   *
   * @param trainedParameters scalars the optimiser updated (= floats in the concept file)
   * @param classImageTime drawing the superclass images (DreamBooth; zero otherwise)
   * @param trainingTime everything else: encoding the images and the optimiser steps
   */
  public record Result(
      BaselineConcept concept,
      long trainedParameters,
      Duration classImageTime,
      Duration trainingTime) {}

  /**
   * The method's weights as they are before the first step (the superclass's embedding, LoRA's
   * seeded A and zero B, copies of the base weights), as a concept: what a run starts from, for
   * comparing a trained concept against (tests, {@link #evaluate}).
   */
  public BaselineConcept initial(BaselineMethod method, BaselineConfig bc) {
    TrainingConfig cfg = bc.shared();
    try (NDManager m = sd.manager().newSubManager();
        NDScope outer = new NDScope()) {
      outer.suppressNotUsedWarning();
      TrainableWeights w =
          method.init(
              sd,
              bc,
              method.learnsEmbedding() ? superclassEmbedding(cfg.superclass(), m) : null,
              m);
      return concept(method, bc, w);
    }
  }

  public Result train(
      BaselineMethod method,
      TrainingImages data,
      BaselineConfig requested,
      Consumer<TrainProgress> onProgress,
      BooleanSupplier cancelled) {
    BaselineConfig bc = requested.withShared(requested.shared().forImages(data));
    TrainingConfig cfg = bc.shared();
    ClipTokenizer tokenizer =
        method.learnsEmbedding() ? AddedTokenizers.with(sd, cfg.placeholder()) : sd.tokenizer();
    try (NDManager m = sd.manager().newSubManager();
        NDScope outer = new NDScope()) {
      outer.suppressNotUsedWarning();
      long t0 = System.nanoTime();
      Latents prior = method.priorPreservation() ? encode(classImages(bc), null, m) : null;
      long t1 = System.nanoTime();
      Latents inst = encode(data.images(), data.masks(), m);
      TrainableWeights w =
          method.init(
              sd,
              bc,
              method.learnsEmbedding() ? superclassEmbedding(cfg.superclass(), m) : null,
              m);
      List<Parameter> params = w.parameters();
      float[] rateScale = new float[params.size()];
      Arrays.fill(rateScale, 1f);
      if (w.embedding() != null) {
        rateScale[rateScale.length - 1] = bc.embeddingLearningRate() / bc.learningRate();
      }
      NoiseSchedule schedule = NoiseSchedule.of(sd.schedulerConfig());
      // AdamW makes every trained value a fresh leaf that requires a gradient; the base model's
      // arrays never do, so backward stops at them and they are never written.
      try (AdamW adam = new AdamW(params, rateScale, bc.learningRate(), cfg.weightDecay())) {
        long start = System.nanoTime();
        for (int step = 0; step < cfg.steps(); step++) {
          if (cancelled.getAsBoolean()) {
            throw new GenerationCancelledException(step);
          }
          final int at = step;
          double stepLoss =
              GradientRetry.untilFinite(
                  step + 1,
                  adam,
                  () -> pass(at, method, bc, inst, prior, w, tokenizer, schedule, m));
          adam.step();
          Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
          Duration eta = elapsed.dividedBy(step + 1).multipliedBy(cfg.steps() - step - 1);
          onProgress.accept(
              new TrainProgress(
                  step + 1, cfg.steps(), stepLoss / cfg.gradientAccumulation(), elapsed, eta));
        }
      }
      long t2 = System.nanoTime();
      return new Result(
          concept(method, bc, w), w.count(), Duration.ofNanos(t1 - t0), Duration.ofNanos(t2 - t1));
    }
  }

  /**
   * One step's forward and backward passes over its micro-batches (drawn from the step's own seed,
   * so a pass run again draws the same batches); the gradients accumulate in the trained values.
   * Returns the sum of the micro-batches' losses.
   */
  private double pass(
      int at,
      BaselineMethod method,
      BaselineConfig bc,
      Latents inst,
      Latents prior,
      TrainableWeights w,
      ClipTokenizer tokenizer,
      NoiseSchedule schedule,
      NDManager m) {
    TrainingConfig cfg = bc.shared();
    SplittableRandom rnd = new SplittableRandom(cfg.seed() * 0x9E3779B97F4A7C15L + at);
    double lossSum = 0;
    // Every micro-batch of the step (with its prior batch, DreamBooth) drawn in
    // the order one-by-one passes draw them, then run in passes of as many as fit.
    int streams = prior == null ? 1 : 2;
    try (NDScope stepScope = new NDScope()) {
      stepScope.suppressNotUsedWarning();
      List<Batch> parts = new ArrayList<>();
      for (int micro = 0; micro < cfg.gradientAccumulation(); micro++) {
        parts.add(sample(cfg, inst, cfg.placeholder(), tokenizer, rnd, m));
        if (prior != null) {
          parts.add(sample(cfg, prior, cfg.superclass(), tokenizer, rnd, m));
        }
      }
      int perPass =
          MicroBatches.perPass(
              cfg.batchSize(),
              parts.size(),
              inst.mean.getShape().get(2) * inst.mean.getShape().get(3),
              fusedLatentCells);
      float[] partLoss = new float[parts.size()];
      for (int first = 0; first < parts.size(); first += perPass) {
        List<Batch> pass = parts.subList(first, Math.min(parts.size(), first + perPass));
        float[] weights = new float[pass.size()];
        for (int i = 0; i < weights.length; i++) {
          weights[i] = (first + i) % streams == 0 ? 1f : bc.priorLossWeight();
        }
        try (NDScope scope = new NDScope();
            GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          scope.suppressNotUsedWarning();
          NDArray embedding = w.embedding() == null ? null : w.embedding().get().reshape(1, -1);
          NDArray losses =
              losses(Batch.concat(pass), pass.size(), embedding, w.edits(), schedule, m)
                  .mul(m.create(weights));
          gc.backward(Scalars.mul(losses.sum(), 1f / cfg.gradientAccumulation()));
          System.arraycopy(losses.toFloatArray(), 0, partLoss, first, pass.size());
        }
      }
      for (int micro = 0; micro < cfg.gradientAccumulation(); micro++) {
        float l = partLoss[micro * streams] + (streams == 2 ? partLoss[micro * 2 + 1] : 0f);
        GradientRetry.requireFiniteLoss(method.name() + " training", at + 1, l);
        lossSum += l;
      }
    }
    return lossSum;
  }

  /**
   * The mean masked epsilon loss of {@code concept} on {@code batches} fixed batches of the
   * concept's images: batch i is drawn (images, flips, posterior sample, noise, timesteps, prompts)
   * from a generator seeded by i alone, so two concepts are scored on exactly the same batches. The
   * concept is applied as at generation (its embedding, its UNet edits at scale 1). For DreamBooth
   * this is the instance term only, without prior preservation.
   */
  public double evaluate(
      BaselineConcept concept, TrainingImages data, TrainingConfig requested, int batches) {
    if (batches < 1) {
      throw new IllegalArgumentException("batches must be >= 1, got " + batches);
    }
    TrainingConfig cfg = requested.forImages(data);
    ClipTokenizer tokenizer =
        concept.embedding() != null
            ? AddedTokenizers.with(sd, concept.placeholder())
            : sd.tokenizer();
    NoiseSchedule schedule = NoiseSchedule.of(sd.schedulerConfig());
    try (NDManager m = sd.manager().newSubManager();
        NDScope outer = new NDScope()) {
      outer.suppressNotUsedWarning();
      Latents inst = encode(data.images(), data.masks(), m);
      NDArray embedding =
          concept.embedding() == null
              ? null
              : m.create(concept.embedding(), new Shape(1, concept.embedding().length));
      WeightEdits edits = BaselineConditioner.edits(concept, 1f, m, sd.options(), null);
      double sum = 0;
      for (int i = 0; i < batches; i++) {
        try (NDScope scope = new NDScope()) {
          scope.suppressNotUsedWarning();
          Batch b =
              sample(
                  cfg,
                  inst,
                  concept.placeholder(),
                  tokenizer,
                  new SplittableRandom(0x5EEDL * 1_000_003L + i),
                  m);
          sum += losses(b, 1, embedding, edits, schedule, m).getFloat(0);
        }
      }
      return sum / batches;
    }
  }

  private BaselineConcept concept(BaselineMethod method, BaselineConfig bc, TrainableWeights w) {
    TrainingConfig cfg = bc.shared();
    return new BaselineConcept(
        method.name(),
        cfg.placeholder(),
        cfg.superclass(),
        sd.baseModelId(),
        w.embedding() == null ? null : w.embedding().get().toFloatArray(),
        w.tensors(),
        bc.describe(method));
  }

  /**
   * The masked epsilon loss of each of {@code groups} equal micro-batches stacked in {@code b},
   * sum(mask * (eps' - eps)^2) / (sum(mask) * C), with the word's embedding (1, D) as an added
   * token (null: none) and the UNet edits in force: (groups).
   */
  private NDArray losses(
      Batch b,
      int groups,
      NDArray embedding,
      WeightEdits edits,
      NoiseSchedule schedule,
      NDManager m) {
    NDArray xt = schedule.addNoise(b.x0(), b.noise(), b.timesteps());
    NDArray text =
        embedding == null
            ? sd.textEncoder().forward(b.ids())
            : sd.textEncoder().forward(b.ids(), embedding);
    NDArray pred =
        sd.unet().forward(xt, m.create(b.timesteps()), Conditioning.of(text).withUnetEdits(edits));
    return MicroBatches.maskedMeans(pred, b.noise(), b.mask(), groups);
  }

  /**
   * Superclass images drawn by the base model: template i mod n filled with the superclass, seed +
   * i.
   */
  private List<BufferedImage> classImages(BaselineConfig bc) {
    TrainingConfig cfg = bc.shared();
    List<BufferedImage> out = new ArrayList<>();
    for (int i = 0; i < bc.classImages(); i++) {
      String prompt =
          cfg.templates().get(i % cfg.templates().size()).replace("{}", cfg.superclass());
      out.addAll(
          sd.generate(
                  GenerateRequest.builder(prompt)
                      .optSteps(bc.classImageSteps())
                      .optSeed(cfg.seed() + i)
                      .build())
              .images());
    }
    return out;
  }

  /** Mean input embedding of the superclass's tokens (where a learned word starts). */
  private float[] superclassEmbedding(String superclass, NDManager m) {
    List<Integer> ids = sd.tokenizer().idsOfWord(superclass);
    if (ids.isEmpty()) {
      throw new IllegalArgumentException("superclass '" + superclass + "' has no tokens");
    }
    try (NDScope s = new NDScope()) {
      s.suppressNotUsedWarning();
      NDArray rows =
          sd.textEncoder()
              .tokenEmbeddings(m.create(ids.stream().mapToLong(Integer::longValue).toArray()));
      return rows.mean(new int[] {0}).toFloatArray();
    }
  }

  // --- data (as PerfusionTrainer) ---------------------------------------------------------------

  private record Latents(
      NDArray mean,
      NDArray std,
      NDArray flippedMean,
      NDArray flippedStd,
      NDArray mask,
      NDArray flippedMask) {}

  private Latents encode(List<BufferedImage> images, List<BufferedImage> maskImages, NDManager m) {
    int size = sd.defaultImageSize();
    int f = sd.vae().config().spatialFactor();
    List<NDArray> pixels = new ArrayList<>();
    List<NDArray> masks = new ArrayList<>();
    for (int i = 0; i < images.size(); i++) {
      pixels.add(
          ImageCodec.toTensor(
              TrainingImages.fit(images.get(i), size, BufferedImage.TYPE_INT_RGB), m));
      BufferedImage mask = maskImages == null ? null : maskImages.get(i);
      masks.add(
          mask == null
              ? m.ones(new Shape(1, 1, size / f, size / f))
              : maskTensor(mask, size, f, m));
    }
    NDArray x = NDArrays.concat(new NDList(pixels));
    NDArray mk = NDArrays.concat(new NDList(masks));
    float scale = sd.vae().config().scalingFactor();
    try (NDScope s = new NDScope()) {
      s.suppressNotUsedWarning();
      DiagonalGaussian d = sd.vae().encode(x);
      DiagonalGaussian df = sd.vae().encode(x.flip(3));
      Latents l =
          new Latents(
              d.mean().mul(scale),
              d.std().mul(scale),
              df.mean().mul(scale),
              df.std().mul(scale),
              mk,
              mk.flip(3));
      for (NDArray a : List.of(l.mean, l.std, l.flippedMean, l.flippedStd, l.mask, l.flippedMask)) {
        NDScope.unregister(a);
      }
      return l;
    }
  }

  private static NDArray maskTensor(BufferedImage mask, int size, int f, NDManager m) {
    BufferedImage g = TrainingImages.fit(mask, size, BufferedImage.TYPE_BYTE_GRAY);
    int n = size / f;
    float[] cells = new float[n * n];
    var raster = g.getRaster();
    for (int y = 0; y < size; y++) {
      for (int x = 0; x < size; x++) {
        cells[(y / f) * n + x / f] += raster.getSample(x, y, 0) / 255f / (f * f);
      }
    }
    return m.create(cells, new Shape(1, 1, n, n));
  }

  private Batch sample(
      TrainingConfig cfg,
      Latents lat,
      String word,
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
    int timesteps = NoiseSchedule.of(sd.schedulerConfig()).numTrainTimesteps();
    for (int i = 0; i < b; i++) {
      int k = rnd.nextInt(n);
      boolean flip = cfg.randomFlip() && rnd.nextBoolean();
      NDArray mean = (flip ? lat.flippedMean : lat.mean).get(new NDIndex("{}:{}", k, k + 1));
      NDArray std = (flip ? lat.flippedStd : lat.std).get(new NDIndex("{}:{}", k, k + 1));
      x0.add(mean.add(std.mul(noise.normal(mean.getShape(), m))));
      masks.add((flip ? lat.flippedMask : lat.mask).get(new NDIndex("{}:{}", k, k + 1)));
      prompts.add(cfg.templates().get(rnd.nextInt(cfg.templates().size())).replace("{}", word));
      t[i] = rnd.nextInt(timesteps);
    }
    NDArray x = NDArrays.concat(new NDList(x0));
    return new Batch(
        x,
        noise.normal(x.getShape(), m),
        t,
        tokenizer.encode(prompts, m),
        NDArrays.concat(new NDList(masks)));
  }
}
