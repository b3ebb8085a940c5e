package org.perfusionjobs.basemodel;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.perfusionjobs.engine.clip.ClipTextConfig;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.perfusion.Covariance;
import org.perfusionjobs.engine.perfusion.CovarianceBuilder;
import org.perfusionjobs.engine.perfusion.TrainingTemplates;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.NoiseSchedule;
import org.perfusionjobs.engine.scheduler.SchedulerConfig;
import org.perfusionjobs.engine.train.DiffusionTrainer;
import org.perfusionjobs.engine.train.LearningRateSchedule;
import org.perfusionjobs.engine.train.VaeTrainer;
import org.perfusionjobs.engine.train.WeightAverage;
import org.perfusionjobs.engine.unet.UNet2DConditionConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionModel;
import org.perfusionjobs.engine.vae.AutoencoderKL;
import org.perfusionjobs.engine.vae.AutoencoderKLConfig;
import org.perfusionjobs.engine.vae.DiagonalGaussian;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.TokenizerBuilder;
import org.perfusionjobs.world.World;

/**
 * Trains the project's own base model (issue 5) from the procedural world into a diffusers Stable
 * Diffusion folder that {@link StableDiffusionPipeline#load} reads:
 *
 * <ol>
 *   <li>{@code tokenizer/}: CLIP BPE built from the world's captions ({@link TokenizerBuilder});
 *   <li>{@code vae/}: an AutoencoderKL trained on the world's 64x64 images ({@link VaeTrainer});
 *   <li>latents of every training image (posterior means), and {@code scaling_factor} = 1 / std of
 *       those latents (SD's recipe), written into {@code vae/config.json};
 *   <li>{@code text_encoder/} + {@code unet/}: trained jointly with the epsilon loss on (scaled
 *       latent, caption) pairs ({@link DiffusionTrainer}, caption dropout for guidance);
 *   <li>{@code model_index.json} and {@code scheduler/scheduler_config.json} (DDIM, scaled_linear
 *       0.00085..0.012 over 1000 steps, as SD v1);
 *   <li>the folder is loaded back with {@link StableDiffusionPipeline}, and the Perfusion
 *       covariance of its text encoder is computed from fresh world captions and saved beside it.
 * </ol>
 *
 * <p>The default widths (see {@link Builder}) suit 64x64 images on a CPU: VAE channels [32, 64, 64]
 * (spatial factor 4, so 4x16x16 latents), UNet [64, 128] with cross attention in both levels (4
 * heads each), text encoder 64 wide, 4 layers, 4 heads.
 */
public final class BaseModelBuilder {
  /** Image side of the world's samples. */
  public static final int IMAGE_SIZE = 64;

  /**
   * Everything the builder needs, in five groups; {@link #defaults()} is the shipped model's recipe
   * and {@link #builder()} starts from it and changes settings by name.
   */
  public record Settings(Stages stages, Data data, Widths widths, Optimiser optimiser, Loss loss) {
    public Settings {
      if (data.trainImages() < stages.batch()) {
        throw new IllegalArgumentException(
            "invalid base model settings: train images "
                + data.trainImages()
                + " (>= batch "
                + stages.batch()
                + ")");
      }
    }

    /**
     * How long each stage trains, and on batches of what size.
     *
     * @param textPretrainSteps text-only pre-training of the text encoder before the UNet ({@link
     *     TextEncoderPretrainer})
     * @param frozenTextFraction share of the UNet steps, at the end, trained with the text encoder
     *     frozen
     */
    public record Stages(
        int vaeSteps, int textPretrainSteps, int unetSteps, float frozenTextFraction, int batch) {
      public Stages {
        if (vaeSteps < 0
            || textPretrainSteps < 0
            || unetSteps < 0
            || !(frozenTextFraction >= 0 && frozenTextFraction <= 1)
            || batch < 1) {
          throw new IllegalArgumentException(
              "invalid base model stages: vae steps "
                  + vaeSteps
                  + ", text pre-training steps "
                  + textPretrainSteps
                  + ", unet steps "
                  + unetSteps
                  + " (each >= 0), frozen text fraction "
                  + frozenTextFraction
                  + " (in [0, 1]), batch "
                  + batch
                  + " (>= 1)");
        }
      }

      /**
       * UNet steps trained with the text encoder, then the rest with it frozen (as SD's UNet trains
       * on a fixed encoder).
       */
      public int jointSteps() {
        return Math.round(unetSteps * (1 - frozenTextFraction));
      }
    }

    /**
     * What the procedural world draws for training, and how much of it.
     *
     * @param seed seed of the training images, initial weights and noise ({@link RecipeSeeds})
     * @param captionsForCinv fresh world captions for the Perfusion covariance
     * @param twoObjectFraction share of training scenes with two objects
     * @param stripedFraction share of training objects drawn with a hidden pattern (no caption says
     *     so)
     * @param patterns the hidden patterns that share is drawn from, uniformly
     * @param detailedCaptions share of captions that name every attribute
     */
    public record Data(
        long seed,
        int trainImages,
        int captionsForCinv,
        double twoObjectFraction,
        double stripedFraction,
        List<Pattern> patterns,
        double detailedCaptions) {
      public Data {
        if (patterns.isEmpty() || patterns.contains(Pattern.PLAIN)) {
          throw new IllegalArgumentException(
              "patterns: name one or more hidden patterns ("
                  + Pattern.hidden().stream().map(Pattern::word).toList()
                  + "), not "
                  + patterns);
        }
        patterns = List.copyOf(patterns);
        if (trainImages < 1
            || captionsForCinv < 1
            || !(twoObjectFraction >= 0 && twoObjectFraction <= 1)
            || !(stripedFraction >= 0 && stripedFraction <= 1)
            || !(detailedCaptions >= 0 && detailedCaptions <= 1)) {
          throw new IllegalArgumentException(
              "invalid base model data: train images "
                  + trainImages
                  + ", captions for cinv "
                  + captionsForCinv
                  + " (each >= 1), two-object fraction "
                  + twoObjectFraction
                  + " (in [0, 1]), striped fraction "
                  + stripedFraction
                  + " (in [0, 1]), detailed captions "
                  + detailedCaptions
                  + " (in [0, 1])");
        }
      }
    }

    /**
     * Widths of the three networks.
     *
     * @param vaeChannels the VAE's block_out_channels (n levels: spatial factor 2^(n-1))
     * @param latentChannels channels of the VAE's latents, which the UNet denoises (SD: 4)
     * @param unetChannels the UNet's block_out_channels, cross attention in every level
     * @param unetHeads attention heads per UNet level
     * @param textWidth text encoder hidden size = the UNet's cross_attention_dim
     */
    public record Widths(
        List<Integer> vaeChannels,
        int latentChannels,
        List<Integer> unetChannels,
        int unetHeads,
        int textWidth,
        int textLayers,
        int textHeads) {
      public Widths {
        vaeChannels = List.copyOf(vaeChannels);
        unetChannels = List.copyOf(unetChannels);
        if (vaeChannels.isEmpty()
            || latentChannels < 1
            || unetChannels.isEmpty()
            || unetHeads < 1
            || textWidth < 1
            || textLayers < 1
            || textHeads < 1) {
          throw new IllegalArgumentException(
              "invalid base model widths: vae channels "
                  + vaeChannels
                  + ", latent channels "
                  + latentChannels
                  + " (>= 1), unet channels "
                  + unetChannels
                  + ", unet heads "
                  + unetHeads
                  + ", text width "
                  + textWidth
                  + ", text layers "
                  + textLayers
                  + ", text heads "
                  + textHeads
                  + " (each >= 1)");
        }
      }
    }

    /**
     * Peak learning rates ({@link #learningRate}: warm-up, then cosine decay) and the UNet's weight
     * average.
     *
     * @param textLearningRateScale the text encoder's peak rate in the joint phase as a share of
     *     the UNet's (1: the same)
     * @param unetAverageDecay decay of the UNet's weight average ({@link WeightAverage}), which is
     *     what the folder gets; 0 saves the last weights
     */
    public record Optimiser(
        float vaeLearningRate,
        float unetLearningRate,
        float textLearningRateScale,
        float unetAverageDecay) {
      public Optimiser {
        if (!(vaeLearningRate > 0)
            || !(unetLearningRate > 0)
            || !(textLearningRateScale > 0 && textLearningRateScale <= 1)
            || !(unetAverageDecay >= 0 && unetAverageDecay < 1)) {
          throw new IllegalArgumentException(
              "invalid base model optimiser: vae lr "
                  + vaeLearningRate
                  + ", unet lr "
                  + unetLearningRate
                  + " (each > 0), text lr scale "
                  + textLearningRateScale
                  + " (in (0, 1]), unet average decay "
                  + unetAverageDecay
                  + " (in [0, 1), 0: none)");
        }
      }
    }

    /**
     * How the losses weigh what they see.
     *
     * @param captionDropout share of captions dropped to the empty prompt (for classifier-free
     *     guidance)
     * @param highNoiseWeightCap cap of the epsilon loss's per-timestep weight min(1 + 1/SNR, cap)
     *     ({@link DiffusionTrainer#timestepWeight}); 1: unweighted
     * @param vaeObjectWeight weight of object pixels in the VAE's L1, against 1 for the background
     *     ({@link ObjectWeights})
     * @param latentObjectWeight weight of object latent pixels in the epsilon loss, against 1 for
     *     the background
     */
    public record Loss(
        float captionDropout,
        float highNoiseWeightCap,
        float vaeObjectWeight,
        float latentObjectWeight) {
      public Loss {
        if (!(captionDropout >= 0 && captionDropout < 1)
            || !(highNoiseWeightCap >= 1)
            || !(vaeObjectWeight >= 1)
            || !(latentObjectWeight >= 1)) {
          throw new IllegalArgumentException(
              "invalid base model loss: caption dropout "
                  + captionDropout
                  + " (in [0, 1)), high-noise weight cap "
                  + highNoiseWeightCap
                  + ", vae object weight "
                  + vaeObjectWeight
                  + ", latent object weight "
                  + latentObjectWeight
                  + " (each >= 1)");
        }
      }
    }

    /** The recipe of the shipped model; see {@link Builder} for each value. */
    public static Settings defaults() {
      return builder().build();
    }

    /** A builder that starts from revision 7's from-scratch recipe (world-v1). */
    public static Builder builder() {
      return new Builder();
    }

    /** A builder that starts from these settings. */
    public Builder toBuilder() {
      return new Builder()
          .vaeSteps(stages.vaeSteps())
          .textPretrainSteps(stages.textPretrainSteps())
          .unetSteps(stages.unetSteps())
          .frozenTextFraction(stages.frozenTextFraction())
          .batch(stages.batch())
          .seed(data.seed())
          .trainImages(data.trainImages())
          .captionsForCinv(data.captionsForCinv())
          .twoObjectFraction(data.twoObjectFraction())
          .stripedFraction(data.stripedFraction())
          .patterns(data.patterns())
          .detailedCaptions(data.detailedCaptions())
          .vaeChannels(widths.vaeChannels())
          .latentChannels(widths.latentChannels())
          .unetChannels(widths.unetChannels())
          .unetHeads(widths.unetHeads())
          .textWidth(widths.textWidth())
          .textLayers(widths.textLayers())
          .textHeads(widths.textHeads())
          .vaeLearningRate(optimiser.vaeLearningRate())
          .unetLearningRate(optimiser.unetLearningRate())
          .textLearningRateScale(optimiser.textLearningRateScale())
          .unetAverageDecay(optimiser.unetAverageDecay())
          .captionDropout(loss.captionDropout())
          .highNoiseWeightCap(loss.highNoiseWeightCap())
          .vaeObjectWeight(loss.vaeObjectWeight())
          .latentObjectWeight(loss.latentObjectWeight());
    }
  }

  /**
   * Settings by name, starting from the recipe of the shipped model (revision 7, docs/decisions.md
   * 24): 2500 VAE steps, 1500 steps of text encoder pre-training ({@link TextEncoderPretrainer}),
   * 12000 UNet steps with the text encoder frozen for the last 20%, batch 16; seed 0, 16384
   * training images, 5000 captions for Cinv, half of the scenes with two objects, 25% of the
   * objects striped (no word says so; stripes only), 30% detailed captions; VAE [32, 64, 64]
   * (spatial factor 4) with 4 latent channels, UNet [64, 128] with 4 heads, text encoder 64 wide, 4
   * layers, 4 heads (MLP 4x); peak learning rates 1e-3 (VAE) and 1e-3 (UNet), the text encoder's at
   * a tenth of the UNet's, the UNet saved as its weight average with decay 0.999; caption dropout
   * 0.1, epsilon errors weighted by min(1 + 1/SNR, 20), object pixels weighted 10x in the VAE's L1
   * and 4x in the epsilon loss.
   */
  public static final class Builder {
    private int vaeSteps = 2500;
    private int textPretrainSteps = 1500;
    private int unetSteps = 12000;
    private float frozenTextFraction = 0.2f;
    private int batch = 16;
    private long seed = 0;
    private int trainImages = 16384;
    private int captionsForCinv = 5000;
    private double twoObjectFraction = 0.5;
    private double stripedFraction = 0.25;
    private List<Pattern> patterns = List.of(Pattern.STRIPES);
    private double detailedCaptions = 0.3;
    private List<Integer> vaeChannels = List.of(32, 64, 64);
    private int latentChannels = 4;
    private List<Integer> unetChannels = List.of(64, 128);
    private int unetHeads = 4;
    private int textWidth = 64;
    private int textLayers = 4;
    private int textHeads = 4;
    private float vaeLearningRate = 1e-3f;
    private float unetLearningRate = 1e-3f;
    private float textLearningRateScale = 0.1f;
    private float unetAverageDecay = 0.999f;
    private float captionDropout = 0.1f;
    private float highNoiseWeightCap = 20f;
    private float vaeObjectWeight = 10f;
    private float latentObjectWeight = 4f;

    private Builder() {}

    public Builder vaeSteps(int v) {
      vaeSteps = v;
      return this;
    }

    public Builder textPretrainSteps(int v) {
      textPretrainSteps = v;
      return this;
    }

    public Builder unetSteps(int v) {
      unetSteps = v;
      return this;
    }

    public Builder frozenTextFraction(float v) {
      frozenTextFraction = v;
      return this;
    }

    public Builder batch(int v) {
      batch = v;
      return this;
    }

    public Builder seed(long v) {
      seed = v;
      return this;
    }

    public Builder trainImages(int v) {
      trainImages = v;
      return this;
    }

    public Builder captionsForCinv(int v) {
      captionsForCinv = v;
      return this;
    }

    public Builder twoObjectFraction(double v) {
      twoObjectFraction = v;
      return this;
    }

    public Builder stripedFraction(double v) {
      stripedFraction = v;
      return this;
    }

    /**
     * Hidden patterns ({@code Pattern.hidden()}: every one, so that concepts with dots, checks, a
     * ring or two-tone halves are drawable too).
     */
    public Builder patterns(List<Pattern> v) {
      patterns = v;
      return this;
    }

    public Builder detailedCaptions(double v) {
      detailedCaptions = v;
      return this;
    }

    public Builder vaeChannels(List<Integer> v) {
      vaeChannels = v;
      return this;
    }

    public Builder latentChannels(int v) {
      latentChannels = v;
      return this;
    }

    public Builder unetChannels(List<Integer> v) {
      unetChannels = v;
      return this;
    }

    public Builder unetHeads(int v) {
      unetHeads = v;
      return this;
    }

    public Builder textWidth(int v) {
      textWidth = v;
      return this;
    }

    public Builder textLayers(int v) {
      textLayers = v;
      return this;
    }

    public Builder textHeads(int v) {
      textHeads = v;
      return this;
    }

    public Builder vaeLearningRate(float v) {
      vaeLearningRate = v;
      return this;
    }

    public Builder unetLearningRate(float v) {
      unetLearningRate = v;
      return this;
    }

    public Builder textLearningRateScale(float v) {
      textLearningRateScale = v;
      return this;
    }

    public Builder unetAverageDecay(float v) {
      unetAverageDecay = v;
      return this;
    }

    public Builder captionDropout(float v) {
      captionDropout = v;
      return this;
    }

    public Builder highNoiseWeightCap(float v) {
      highNoiseWeightCap = v;
      return this;
    }

    public Builder vaeObjectWeight(float v) {
      vaeObjectWeight = v;
      return this;
    }

    public Builder latentObjectWeight(float v) {
      latentObjectWeight = v;
      return this;
    }

    /**
     * @throws IllegalArgumentException naming every value of the group that is out of range
     */
    public Settings build() {
      return new Settings(
          new Settings.Stages(vaeSteps, textPretrainSteps, unetSteps, frozenTextFraction, batch),
          new Settings.Data(
              seed,
              trainImages,
              captionsForCinv,
              twoObjectFraction,
              stripedFraction,
              patterns,
              detailedCaptions),
          new Settings.Widths(
              vaeChannels,
              latentChannels,
              unetChannels,
              unetHeads,
              textWidth,
              textLayers,
              textHeads),
          new Settings.Optimiser(
              vaeLearningRate, unetLearningRate, textLearningRateScale, unetAverageDecay),
          new Settings.Loss(
              captionDropout, highNoiseWeightCap, vaeObjectWeight, latentObjectWeight));
    }
  }

  /** UNet steps between snapshots of text_encoder/ and unet/ (the folder loads at each). */
  static final int SNAPSHOT_EVERY = 1000;

  /** Steps of linear warm-up before the cosine decay. */
  static final int WARMUP_STEPS = 100;

  /**
   * The learning rate of 0-based step {@code step} of {@code steps}: linear warm-up over {@link
   * #WARMUP_STEPS} (or a tenth of a shorter run), then cosine decay from {@code peak} to a tenth of
   * it. A short run cannot afford a long tail at full rate; the UNet's weight average ({@link
   * WeightAverage}) then smooths what step-to-step noise the decayed rate leaves.
   */
  static float learningRate(float peak, int step, int steps) {
    return LearningRateSchedule.warmupCosine(
        peak, step, steps, Math.min(WARMUP_STEPS, Math.max(1, steps / 10)));
  }

  /**
   * What a build produced: the folder, the estimated scaling factor, last losses and timings per
   * stage.
   */
  public record Result(
      Path folder,
      float scalingFactor,
      float lastVaeLoss,
      float lastDiffusionLoss,
      Map<String, Duration> timings) {
    public Duration total() {
      return timings.values().stream().reduce(Duration.ZERO, Duration::plus);
    }
  }

  private BaseModelBuilder() {}

  /**
   * The world the VAE, the text encoder and the UNet train on: the settings' share of two-object
   * scenes, some objects striped (no caption says so), more detailed captions.
   */
  static World trainingWorld(Settings s) {
    return new World(
        s.data().twoObjectFraction(),
        s.data().stripedFraction(),
        s.data().detailedCaptions(),
        s.data().patterns());
  }

  /**
   * Where a build's weights start.
   *
   * @param vaeFrom a model folder whose {@code vae/} is copied and used as it is, scaling factor
   *     included, instead of training one (the UNet only ever sees the encoder, so a VAE whose
   *     decoder was tuned afterwards is reused as it is); null to train one
   * @param weightsFrom a model folder (same tokenizer) whose text encoder and UNet, and VAE unless
   *     {@code vaeFrom} is given, are trained further instead of from random weights: a fine-tuning
   *     run on new data (text pre-training is skipped; the widths are the folder's); null to start
   *     from random weights
   */
  public record Start(Path vaeFrom, Path weightsFrom) {
    /** Everything trained from random weights. */
    public static Start scratch() {
      return new Start(null, null);
    }

    /** Another folder's VAE as it is; the rest from random weights. */
    public static Start reusingVae(Path folder) {
      return new Start(folder, null);
    }

    /**
     * Every component of {@code folder} trained further (its VAE reused as it is when the settings
     * give it no step).
     */
    public static Start fineTuning(Path folder) {
      return new Start(null, folder);
    }
  }

  /**
   * Builds the model folder {@code out} (created; existing component files are overwritten) from
   * random weights. Progress goes to {@code log}.
   */
  public static Result build(Path out, Settings s, PrintStream log) throws IOException {
    return build(out, s, Start.scratch(), log);
  }

  /** As {@link #build(Path, Settings, PrintStream)}, starting where {@code start} says. */
  public static Result build(Path out, Settings s, Start start, PrintStream log)
      throws IOException {
    Files.createDirectories(out);
    Build b = new Build(out, s, log);
    b.writeTokenizer();
    if (start.weightsFrom() != null) {
      b.checkSameTokenizer(start.weightsFrom());
    }
    // A fine-tuning run given no VAE step keeps the folder's VAE as it is.
    Path vaeFrom =
        start.vaeFrom() != null
            ? start.vaeFrom()
            : start.weightsFrom() != null && s.stages().vaeSteps() == 0
                ? start.weightsFrom()
                : null;
    List<Sample> samples = b.renderScenes();
    try (NDManager weights = NDManager.newBaseManager();
        NDManager data = NDManager.newBaseManager()) {
      NDArray images = ImageCodec.toTensor(samples.stream().map(Sample::image).toList(), data);
      AutoencoderKL vae =
          vaeFrom != null
              ? b.reuseVae(vaeFrom, weights)
              : b.trainVae(samples, images, start.weightsFrom(), weights, data);
      Latents latents = b.encodeLatents(vae, images, samples, vaeFrom, data);
      images.close(); // the UNet trains on latents only
      b.trainTextEncoderAndUNet(
          latents,
          samples.stream().map(Sample::caption).toList(),
          start.weightsFrom(),
          weights,
          data);
    }
    b.writePipelineFiles();
    b.computeCovariance();
    return b.finish();
  }

  /**
   * Training latents, already scaled, with their per-pixel object weights: (N, C, h, w) and (N, 1,
   * h, w).
   */
  private record Latents(NDArray scaled, NDArray objectWeights, float scalingFactor) {}

  /** One run of the recipe: its phases in order, each timed, and what they hand each other. */
  private static final class Build {
    final Path out;
    final Settings s;
    final PrintStream log;
    final World captioned;
    final Map<String, Duration> timings = new LinkedHashMap<>();
    long phaseStart;
    float scaling;
    float vaeLoss = Float.NaN;
    float diffusionLoss = Float.NaN;

    Build(Path out, Settings s, PrintStream log) {
      this.out = out;
      this.s = s;
      this.log = log;
      this.captioned = trainingWorld(s);
    }

    private void start() {
      phaseStart = System.nanoTime();
    }

    private void done(String phase) {
      timings.put(phase, since(phaseStart));
    }

    private void checkLatentChannels(int channels, Path folder, String component) {
      if (channels != s.widths().latentChannels()) {
        throw new IllegalArgumentException(
            folder
                + ": its "
                + component
                + " has "
                + channels
                + " latent channels, the settings ask for "
                + s.widths().latentChannels()
                + " (--latent-channels)");
      }
    }

    /** tokenizer/: CLIP BPE built from the plain world's captions. */
    void writeTokenizer() throws IOException {
      start();
      TokenizerBuilder.Tokenizer bpe =
          TokenizerBuilder.build(
              new World(),
              TokenizerBuilder.DEFAULT_CORPUS_SEED,
              TokenizerBuilder.DEFAULT_CORPUS_SIZE);
      TokenizerBuilder.write(bpe, out.resolve("tokenizer"));
      log.printf("tokenizer: %d tokens -> %s%n", bpe.size(), out.resolve("tokenizer"));
      done("tokenizer");
    }

    List<Sample> renderScenes() {
      start();
      long seed = RecipeSeeds.trainingScenes(s.data().seed());
      List<Sample> samples = captioned.samples(seed, s.data().trainImages()).toList();
      done("render");
      log.printf(
          "world: %d samples (seed %d) rendered in %d ms%n",
          samples.size(), seed, timings.get("render").toMillis());
      return samples;
    }

    /**
     * The VAE of another model folder, scaling factor included (the UNet only ever sees the
     * encoder).
     */
    AutoencoderKL reuseVae(Path vaeFrom, NDManager weights) throws IOException {
      start();
      AutoencoderKL vae =
          AutoencoderKL.load(
              vaeFrom.resolve("vae"), weights, DataType.FLOAT32, weights.getDevice());
      log.printf(
          "vae: reused from %s (scaling_factor %.5f)%n",
          vaeFrom.resolve("vae"), vae.config().scalingFactor());
      checkLatentChannels(vae.config().latentChannels(), vaeFrom, "VAE");
      copyFolder(vaeFrom.resolve("vae"), out.resolve("vae"));
      scaling = vae.config().scalingFactor();
      done("vae");
      return vae;
    }

    /**
     * Fails unless {@code folder}'s tokenizer is the one just written: a fine-tuned model must read
     * every caption the way its weights learnt to.
     */
    void checkSameTokenizer(Path folder) throws IOException {
      for (String f : List.of("vocab.json", "merges.txt")) {
        Path theirs = folder.resolve("tokenizer").resolve(f);
        if (!Files.isRegularFile(theirs)
            || Files.mismatch(theirs, out.resolve("tokenizer").resolve(f)) != -1L) {
          throw new IllegalArgumentException(
              "--init-from "
                  + folder
                  + ": its tokenizer/"
                  + f
                  + " differs from the world's; fine-tune only a model built by train-base");
        }
      }
    }

    AutoencoderKL trainVae(
        List<Sample> samples, NDArray images, Path weightsFrom, NDManager weights, NDManager data)
        throws IOException {
      start();
      AutoencoderKL vae;
      if (weightsFrom != null) {
        vae =
            AutoencoderKL.load(
                weightsFrom.resolve("vae"), weights, DataType.FLOAT32, weights.getDevice());
        checkLatentChannels(vae.config().latentChannels(), weightsFrom, "VAE");
        log.printf("vae: trained further from %s%n", weightsFrom.resolve("vae"));
      } else {
        vae = new AutoencoderKL(vaeConfig(s, 1f));
        vae.initRandom(weights, DataType.FLOAT32, RecipeSeeds.vaeInit(s.data().seed()));
      }
      try (NDArray pixelWeights =
          ObjectWeights.of(
              samples,
              s.loss().vaeObjectWeight(),
              1,
              data)) { // (N, 1, 64, 64), only while the VAE trains
        vaeLoss = BaseModelBuilder.trainVae(vae, images, pixelWeights, s, data, log);
      }
      done("vae");
      return vae;
    }

    /**
     * Posterior means of every training image; a trained VAE's {@code scaling_factor} = 1 / their
     * std (SD's recipe), written with the VAE into vae/.
     */
    Latents encodeLatents(
        AutoencoderKL vae, NDArray images, List<Sample> samples, Path vaeFrom, NDManager data)
        throws IOException {
      start();
      NDArray raw = encodeAll(vae, images, s.stages().batch(), data);
      if (vaeFrom == null) {
        NDArray raw64 = raw.toType(DataType.FLOAT64, false);
        float std =
            (float)
                raw64
                    .sub(raw64.mean())
                    .square()
                    .mean()
                    .sqrt()
                    .getDouble(); // population std over every latent element
        if (!(std > 0) || !Float.isFinite(std)) {
          throw new IllegalStateException("latent std is " + std + "; the VAE did not train");
        }
        scaling = 1f / std;
        VaeTrainer.save(
            vae, out.resolve("vae")); // same weights; only the config's scaling_factor changes
        setScalingFactor(out.resolve("vae").resolve("config.json"), scaling);
      }
      NDArray latents = raw.mul(scaling);
      int factor = (int) (IMAGE_SIZE / latents.getShape().get(2));
      NDArray objectWeights =
          ObjectWeights.of(samples, s.loss().latentObjectWeight(), factor, data);
      log.printf("latents: %s -> scaling_factor %.5f%n", latents.getShape(), scaling);
      done("latents");
      return new Latents(latents, objectWeights, scaling);
    }

    /**
     * text_encoder/ and unet/: optional text-only pre-training, then the UNet with the encoder
     * (joint phase), then with it frozen; snapshots on the way, the UNet's weight average at the
     * end.
     */
    void trainTextEncoderAndUNet(
        Latents latents, List<String> captions, Path weightsFrom, NDManager weights, NDManager data)
        throws IOException {
      start();
      try (ClipTokenizer tok = ClipTokenizer.load(out.resolve("tokenizer"))) {
        ClipTextModel te;
        UNet2DConditionModel unet;
        if (weightsFrom != null) {
          // Fine-tuning: the folder's encoder already reads captions, so no text pre-training.
          te =
              ClipTextModel.load(
                  weightsFrom.resolve("text_encoder"),
                  weights,
                  DataType.FLOAT32,
                  weights.getDevice());
          unet =
              UNet2DConditionModel.load(
                  weightsFrom.resolve("unet"), weights, DataType.FLOAT32, weights.getDevice());
          checkLatentChannels(unet.config().inChannels(), weightsFrom, "UNet");
          log.printf(
              "text encoder and unet: trained further from %s (no text pre-training)%n",
              weightsFrom);
        } else {
          te = new ClipTextModel(textConfig(s, tok.vocabSize()));
          te.initRandom(weights, DataType.FLOAT32, RecipeSeeds.textEncoderInit(s.data().seed()));
          if (s.stages().textPretrainSteps() > 0) {
            pretrainTextEncoder(te, tok, captioned, s, log);
            done("text pre-training");
            start();
          }
          unet = new UNet2DConditionModel(unetConfig(s, latents.scaled().getShape().get(2)));
          unet.initRandom(weights, DataType.FLOAT32, RecipeSeeds.unetInit(s.data().seed()));
        }
        // The folder is complete from the first snapshot on, so a snapshot can be sampled while
        // training goes on.
        writeModelIndex(out);
        writeSchedulerConfig(out.resolve("scheduler"));
        // Spans both phases: the frozen phase's fresh optimiser must not reset the average.
        WeightAverage average =
            s.optimiser().unetAverageDecay() > 0
                ? new WeightAverage(unet.namedParameters(), s.optimiser().unetAverageDecay())
                : null;
        new UNetPhases(te, tok, unet, average, latents, captions, data).run();
        // Also with no UNet step (a VAE-only or text-only run), so that the folder is complete and
        // loads.
        saveTextAndUNet(te, tok, unet, average, out);
        if (average != null) {
          log.printf(
              "unet: saved the weight average (decay %s, %d updates)%n",
              s.optimiser().unetAverageDecay(), average.updates());
          average.close();
        }
      }
      done("unet");
    }

    /**
     * The UNet steps: phase 1 trains text encoder and UNet jointly; phase 2 freezes the encoder
     * (fresh optimiser moments for the UNet).
     */
    private final class UNetPhases {
      final ClipTextModel te;
      final ClipTokenizer tok;
      final UNet2DConditionModel unet;
      final WeightAverage average;
      final Latents latents;
      final List<String> captions;
      final NDManager data;
      final SplittableRandom batches =
          new SplittableRandom(RecipeSeeds.unetBatches(s.data().seed()));
      final int logEvery = Math.max(1, s.stages().unetSteps() / 20);
      final long startNanos = System.nanoTime();
      double window;
      double windowWeighted;
      int inWindow;

      UNetPhases(
          ClipTextModel te,
          ClipTokenizer tok,
          UNet2DConditionModel unet,
          WeightAverage average,
          Latents latents,
          List<String> captions,
          NDManager data) {
        this.te = te;
        this.tok = tok;
        this.unet = unet;
        this.average = average;
        this.latents = latents;
        this.captions = captions;
        this.data = data;
      }

      void run() throws IOException {
        NoiseSchedule schedule = NoiseSchedule.of(SchedulerConfig.stableDiffusionV1());
        int step = 0;
        for (boolean frozen : new boolean[] {false, true}) {
          int end = frozen ? s.stages().unetSteps() : s.stages().jointSteps();
          if (step >= end) {
            continue;
          }
          if (frozen) {
            log.printf("unet step %d: text encoder frozen from here on%n", step);
          }
          try (DiffusionTrainer trainer =
              new DiffusionTrainer(te, tok, unet, schedule, diffusionOptions(s, frozen))) {
            for (; step < end; step++) {
              step(trainer, step);
            }
          }
        }
      }

      private void step(DiffusionTrainer trainer, int step) throws IOException {
        trainer
            .optimizer()
            .setLearningRate(
                learningRate(s.optimiser().unetLearningRate(), step, s.stages().unetSteps()));
        DiffusionTrainer.StepLoss l;
        try (NDScope scope = new NDScope()) {
          scope.suppressNotUsedWarning();
          long[] idx =
              batches.ints(s.stages().batch(), 0, s.data().trainImages()).asLongStream().toArray();
          List<String> caps = new ArrayList<>(s.stages().batch());
          for (long i : idx) {
            caps.add(captions.get((int) i));
          }
          NDArray pick = data.create(idx);
          l =
              trainer.step(
                  latents.scaled().get(pick),
                  caps,
                  RecipeSeeds.unetStep(s.data().seed(), step),
                  latents.objectWeights().get(pick));
        }
        if (average != null) {
          average.update();
        }
        diffusionLoss = l.loss();
        window += l.loss();
        windowWeighted += l.weightedLoss();
        inWindow++;
        if ((step + 1) % logEvery == 0 || step + 1 == s.stages().unetSteps()) {
          log.printf(
              "unet step %d/%d: eps MSE %.4f, weighted %.4f (means of last %d), lr %.2e, %.0f"
                  + " ms/step%n",
              step + 1,
              s.stages().unetSteps(),
              window / inWindow,
              windowWeighted / inWindow,
              inWindow,
              trainer.optimizer().learningRate(),
              (System.nanoTime() - startNanos) / 1e6 / (step + 1));
          window = 0;
          windowWeighted = 0;
          inWindow = 0;
        }
        if ((step + 1) % SNAPSHOT_EVERY == 0 && step + 1 < s.stages().unetSteps()) {
          saveTextAndUNet(te, tok, unet, average, out);
          log.printf("unet step %d: snapshot saved to %s%n", step + 1, out);
        }
      }
    }

    /**
     * model_index.json, the scheduler and the Perfusion training templates (also when no UNet step
     * ran).
     */
    void writePipelineFiles() throws IOException {
      writeModelIndex(out);
      writeSchedulerConfig(out.resolve("scheduler"));
      writeTrainingTemplates(out);
    }

    /**
     * Loads the folder back (proof that it is complete) and saves the Perfusion Cinv of its text
     * encoder beside it.
     */
    void computeCovariance() throws IOException {
      start();
      long seed = RecipeSeeds.covarianceCaptions(s.data().seed());
      List<String> cinvCaptions = new World().captions(seed, s.data().captionsForCinv());
      try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(out, EngineOptions.cpu())) {
        Covariance cov =
            CovarianceBuilder.compute(
                sd,
                cinvCaptions,
                false,
                "world captions (seed " + seed + ", n " + s.data().captionsForCinv() + ")",
                n -> {});
        cov.save(out.resolve(Covariance.FILE_NAME));
        log.printf(
            "covariance: %d captions -> %s (sha256 %s)%n",
            cinvCaptions.size(), out.resolve(Covariance.FILE_NAME), cov.hash());
      }
      done("covariance");
    }

    Result finish() {
      Result r = new Result(out, scaling, vaeLoss, diffusionLoss, timings);
      StringBuilder sb = new StringBuilder();
      timings.forEach(
          (k, v) ->
              sb.append(k)
                  .append(' ')
                  .append(String.format("%.1f s", v.toMillis() / 1000.0))
                  .append(", "));
      log.printf(
          "base model -> %s%ntimings: %stotal %.1f s%n",
          out.toAbsolutePath(), sb, r.total().toMillis() / 1000.0);
      return r;
    }
  }

  /**
   * Writes text_encoder/ and unet/: the UNet's weight average when there is one, else its weights.
   */
  private static void saveTextAndUNet(
      ClipTextModel te,
      ClipTokenizer tok,
      UNet2DConditionModel unet,
      WeightAverage average,
      Path out)
      throws IOException {
    DiffusionTrainer.saveTextEncoder(te, tok, out.resolve("text_encoder"));
    if (average != null) {
      DiffusionTrainer.saveUNet(unet, average.averages(), out.resolve("unet"));
    } else {
      DiffusionTrainer.saveUNet(unet, out.resolve("unet"));
    }
  }

  /**
   * The VAE config: DownEncoderBlock2D per channel entry, 1 layer per block, {@code latentChannels}
   * latent channels, 8 groups.
   */
  public static AutoencoderKLConfig vaeConfig(Settings s, float scalingFactor) {
    int n = s.widths().vaeChannels().size();
    return new AutoencoderKLConfig(
        3,
        3,
        Collections.nCopies(n, "DownEncoderBlock2D"),
        Collections.nCopies(n, "UpDecoderBlock2D"),
        s.widths().vaeChannels(),
        1,
        "silu",
        s.widths().latentChannels(),
        8,
        IMAGE_SIZE,
        scalingFactor);
  }

  /**
   * The options of the text encoder + UNet stage, in its joint or its frozen-encoder phase (at the
   * peak learning rate).
   */
  public static DiffusionTrainer.Options diffusionOptions(Settings s, boolean frozenText) {
    return DiffusionTrainer.Options.defaults()
        .withLearningRate(s.optimiser().unetLearningRate())
        .withCaptionDropout(s.loss().captionDropout())
        .withFrozenTextEncoder(frozenText)
        .withTextLearningRateScale(s.optimiser().textLearningRateScale())
        .withHighNoiseWeightCap(s.loss().highNoiseWeightCap());
  }

  /** The text encoder config: {@code textWidth} wide, MLP 4x, quick_gelu, 77 positions. */
  public static ClipTextConfig textConfig(Settings s, int vocabSize) {
    return new ClipTextConfig(
        vocabSize,
        s.widths().textWidth(),
        4 * s.widths().textWidth(),
        s.widths().textLayers(),
        s.widths().textHeads(),
        TokenizerBuilder.MODEL_MAX_LENGTH,
        "quick_gelu",
        1e-5f);
  }

  /**
   * The UNet config as diffusers JSON (parsed by the engine's reader): cross attention in every
   * level.
   */
  public static UNet2DConditionConfig unetConfig(Settings s, long latentSize) throws IOException {
    ObjectNode j = unetJson(s, (int) latentSize);
    return Configs.json().treeToValue(j, UNet2DConditionConfig.class);
  }

  static ObjectNode unetJson(Settings s, int latentSize) {
    int n = s.widths().unetChannels().size();
    ObjectNode j = Configs.json().createObjectNode();
    j.put("_class_name", "UNet2DConditionModel");
    j.put("sample_size", latentSize);
    j.put("in_channels", s.widths().latentChannels());
    j.put("out_channels", s.widths().latentChannels());
    ArrayNode ch = j.putArray("block_out_channels");
    s.widths().unetChannels().forEach(ch::add);
    j.put("layers_per_block", 1);
    ArrayNode down = j.putArray("down_block_types");
    ArrayNode up = j.putArray("up_block_types");
    ArrayNode heads = j.putArray("attention_head_dim");
    for (int i = 0; i < n; i++) {
      down.add("CrossAttnDownBlock2D");
      up.add("CrossAttnUpBlock2D");
      heads.add(s.widths().unetHeads());
    }
    j.put("mid_block_type", "UNetMidBlock2DCrossAttn");
    j.put("cross_attention_dim", s.widths().textWidth());
    j.put("norm_num_groups", 8);
    j.put("norm_eps", 1e-5);
    j.put("flip_sin_to_cos", true);
    j.put("freq_shift", 0);
    j.put("downsample_padding", 1);
    j.put("act_fn", "silu");
    j.put("use_linear_projection", false);
    j.put("transformer_layers_per_block", 1);
    return j;
  }

  private static float trainVae(
      AutoencoderKL vae,
      NDArray images,
      NDArray pixelWeights,
      Settings s,
      NDManager data,
      PrintStream log) {
    SplittableRandom vaeRnd = new SplittableRandom(RecipeSeeds.vaeBatches(s.data().seed()));
    float[] vaeLast = {Float.NaN};
    int every = Math.max(1, s.stages().vaeSteps() / 20);
    long vaeStart = System.nanoTime();
    try (VaeTrainer trainer =
        new VaeTrainer(
            vae,
            new VaeTrainer.Options(
                s.optimiser().vaeLearningRate(),
                1e-2f,
                1e-6f,
                VaeTrainer.Reconstruction.L1,
                RecipeSeeds.vaeTrainer(s.data().seed())))) {
      for (int step = 1; step <= s.stages().vaeSteps(); step++) { // 1-based
        trainer
            .optimizer()
            .setLearningRate(
                learningRate(s.optimiser().vaeLearningRate(), step - 1, s.stages().vaeSteps()));
        VaeTrainer.StepLoss loss;
        try (NDScope scope = new NDScope()) {
          scope.suppressNotUsedWarning();
          NDArray pick = indices(vaeRnd, s.data().trainImages(), s.stages().batch(), data);
          loss = trainer.step(images.get(pick), pixelWeights.get(pick));
        }
        vaeLast[0] = loss.total();
        if (step % every == 0 || step == s.stages().vaeSteps()) {
          log.printf(
              "vae step %d/%d: loss %.4f (object-weighted L1 %.4f, KL %.1f), %.0f ms/step%n",
              step,
              s.stages().vaeSteps(),
              loss.total(),
              loss.reconstruction(),
              loss.kl(),
              (System.nanoTime() - vaeStart) / 1e6 / step);
        }
      }
    }
    return vaeLast[0];
  }

  /**
   * Text-only pre-training of the encoder ({@link TextEncoderPretrainer}): 64 fresh captions per
   * step, lr 1e-3.
   */
  private static void pretrainTextEncoder(
      ClipTextModel te, ClipTokenizer tok, World captioned, Settings s, PrintStream log) {
    long start = System.nanoTime();
    int every = Math.max(1, s.stages().textPretrainSteps() / 10);
    TextEncoderPretrainer.StepResult last =
        TextEncoderPretrainer.train(
            te,
            tok,
            captioned,
            new TextEncoderPretrainer.Options(
                s.stages().textPretrainSteps(),
                64,
                1e-3f,
                RecipeSeeds.textPretraining(s.data().seed())),
            (step, r) -> {
              if (step % every == 0) {
                log.printf(
                    "text pre-training step %d/%d: loss %.4f, heads right %.1f%%, %.0f ms/step%n",
                    step,
                    s.stages().textPretrainSteps(),
                    r.loss(),
                    100 * r.accuracy(),
                    (System.nanoTime() - start) / 1e6 / step);
              }
            });
    log.printf(
        "text pre-training: loss %.4f, heads right %.1f%% at the end%n",
        last.loss(), 100 * last.accuracy());
  }

  private static void copyFolder(Path from, Path to) throws IOException {
    if (from.toAbsolutePath().normalize().equals(to.toAbsolutePath().normalize())) {
      return;
    }
    Files.createDirectories(to);
    try (var files = Files.list(from)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  private static NDArray indices(SplittableRandom rnd, int n, int batch, NDManager m) {
    return m.create(rnd.ints(batch, 0, n).asLongStream().toArray());
  }

  private static NDArray encodeAll(AutoencoderKL vae, NDArray images, int batch, NDManager m) {
    long n = images.getShape().get(0);
    List<float[]> parts = new ArrayList<>();
    Shape one = null;
    for (long i = 0; i < n; i += batch) {
      try (NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        DiagonalGaussian d = vae.encode(images.get(i + ":" + Math.min(n, i + batch)));
        one = d.mean().getShape();
        parts.add(d.mean().toFloatArray());
      }
    }
    int per = (int) (one.size() / one.get(0));
    float[] all = new float[(int) n * per];
    int o = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, all, o, p.length);
      o += p.length;
    }
    return m.create(all, new Shape(n, one.get(1), one.get(2), one.get(3)));
  }

  private static void setScalingFactor(Path config, float scaling) throws IOException {
    ObjectNode json = (ObjectNode) Configs.json().readTree(config.toFile());
    json.put("scaling_factor", scaling);
    Files.writeString(
        config, Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(json));
  }

  /**
   * Perfusion training prompts in the world's caption language, for the worker and {@code perfusion
   * train}. Some carry modifiers: the key lock is learnt on the word's encoding, and this text
   * encoder encodes a word differently after "large" or before "on the left" (model card).
   */
  public static final List<String> TRAINING_TEMPLATES =
      List.of(
          "a {}",
          "a photo of a {}",
          "a large {}",
          "a {} in the centre",
          "a {} on a grey background",
          "a medium {} on the left");

  static void writeTrainingTemplates(Path out) throws IOException {
    Files.writeString(
        out.resolve(TrainingTemplates.FILE_NAME),
        "# Perfusion training prompts for this model: its captions are the world's, not photos.\n"
            + String.join("\n", TRAINING_TEMPLATES)
            + "\n");
  }

  static void writeModelIndex(Path out) throws IOException {
    ObjectNode j = Configs.json().createObjectNode();
    j.put("_class_name", "StableDiffusionPipeline");
    j.put("_diffusers_version", "0.27.2");
    j.putArray("feature_extractor").addNull().addNull();
    j.putArray("image_encoder").addNull().addNull();
    j.put("requires_safety_checker", false);
    j.putArray("safety_checker").addNull().addNull();
    j.putArray("scheduler").add("diffusers").add("DDIMScheduler");
    j.putArray("text_encoder").add("transformers").add("CLIPTextModel");
    j.putArray("tokenizer").add("transformers").add("CLIPTokenizer");
    j.putArray("unet").add("diffusers").add("UNet2DConditionModel");
    j.putArray("vae").add("diffusers").add("AutoencoderKL");
    Files.writeString(
        out.resolve("model_index.json"),
        Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(j));
  }

  static void writeSchedulerConfig(Path dir) throws IOException {
    Files.createDirectories(dir);
    ObjectNode j = Configs.json().createObjectNode();
    j.put("_class_name", "DDIMScheduler");
    j.put("_diffusers_version", "0.27.2");
    j.put("beta_end", 0.012);
    j.put("beta_schedule", "scaled_linear");
    j.put("beta_start", 0.00085);
    j.put("clip_sample", false);
    j.put("clip_sample_range", 1.0);
    j.put("dynamic_thresholding_ratio", 0.995);
    j.put("num_train_timesteps", 1000);
    j.put("prediction_type", "epsilon");
    j.put("rescale_betas_zero_snr", false);
    j.put("sample_max_value", 1.0);
    j.put("set_alpha_to_one", false);
    j.put("steps_offset", 1);
    j.put("thresholding", false);
    j.put("timestep_spacing", "leading");
    j.putNull("trained_betas");
    Files.writeString(
        dir.resolve("scheduler_config.json"),
        Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(j));
  }

  private static Duration since(long t0) {
    return Duration.ofNanos(System.nanoTime() - t0);
  }
}
