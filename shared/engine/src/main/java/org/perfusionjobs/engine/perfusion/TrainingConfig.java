package org.perfusionjobs.engine.perfusion;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Settings of one Perfusion training run; defaults are the method page's (section 5): AdamW with V
 * targets at lr 0.03 and the embedding at 0.006, weight decay 0.01, 400 steps at an effective batch
 * of 16 (4 x 4 accumulation), training beta 0.75 / tau 0.10, i* EMA 0.99.
 */
public record TrainingConfig(
    String placeholder,
    String superclass,
    int steps,
    int batchSize,
    int gradientAccumulation,
    float valueLearningRate,
    float embeddingLearningRate,
    float weightDecay,
    float trainBeta,
    float trainTau,
    float emaDecay,
    Flip flip,
    long seed,
    List<String> templates,
    float inferenceBeta,
    float inferenceTau,
    int checkpointEvery,
    float embeddingNormCap,
    float backgroundWeight,
    GateScope gateScope,
    float keyRate) {

  /** The concept file's record of {@link #keyRate} ({@code train.key_rate}), when above 0. */
  public static final String KEY_RATE = "key_rate";

  public static final List<String> DEFAULT_TEMPLATES =
      List.of(
          "a photo of a {}",
          "a good photo of the {}",
          "image of a {}",
          "a photo of the {}",
          "a close-up photo of a {}",
          "a rendering of a {}",
          "a picture of the {}",
          "a cropped photo of a {}");

  public TrainingConfig {
    Objects.requireNonNull(placeholder, "placeholder");
    Objects.requireNonNull(superclass, "superclass");
    Objects.requireNonNull(flip, "flip");
    check(
        !placeholder.isBlank() && placeholder.chars().noneMatch(Character::isWhitespace),
        "placeholder",
        "must be one word without spaces, got '" + placeholder + "'");
    check(!superclass.isBlank(), "superclass", "must not be empty");
    check(
        !placeholder.equalsIgnoreCase(superclass),
        "placeholder",
        "must differ from the superclass '" + superclass + "'");
    check(steps >= 1 && steps <= 100_000, "steps", "must be in 1..100000, got " + steps);
    check(batchSize >= 1 && batchSize <= 64, "batchSize", "must be in 1..64, got " + batchSize);
    check(
        gradientAccumulation >= 1 && gradientAccumulation <= 64,
        "gradientAccumulation",
        "must be in 1..64, got " + gradientAccumulation);
    check(
        valueLearningRate > 0 && valueLearningRate < 10,
        "valueLearningRate",
        "must be in (0, 10), got " + valueLearningRate);
    check(
        embeddingLearningRate > 0 && embeddingLearningRate < 10,
        "embeddingLearningRate",
        "must be in (0, 10), got " + embeddingLearningRate);
    check(
        weightDecay >= 0 && weightDecay < 1,
        "weightDecay",
        "must be in [0, 1), got " + weightDecay);
    check(
        trainTau > 0 && inferenceTau > 0,
        "tau",
        "must be > 0, got " + trainTau + " / " + inferenceTau);
    check(trainBeta >= 0 && trainBeta <= 2, "trainBeta", "must be in [0, 2], got " + trainBeta);
    check(emaDecay >= 0 && emaDecay < 1, "emaDecay", "must be in [0, 1), got " + emaDecay);
    check(
        !templates.isEmpty() && templates.stream().allMatch(t -> t.contains("{}")),
        "templates",
        "each must contain {} for the word");
    check(checkpointEvery >= 1, "checkpointEvery", "must be >= 1, got " + checkpointEvery);
    check(
        embeddingNormCap == 0 || (embeddingNormCap >= 0.5f && embeddingNormCap <= 100),
        "embeddingNormCap",
        "must be 0 (off) or in 0.5..100, got " + embeddingNormCap);
    check(
        backgroundWeight >= 0 && backgroundWeight <= 1,
        "backgroundWeight",
        "must be in [0, 1], got " + backgroundWeight);
    Objects.requireNonNull(gateScope, "gateScope");
    check(
        keyRate >= 0 && keyRate <= 1,
        "keyRate",
        "must be in [0, 1] (0: the paper's locked key, 0.1: the softly locked key), got "
            + keyRate);
    templates = List.copyOf(templates);
  }

  private static void check(boolean ok, String field, String reason) {
    if (!ok) {
      throw new IllegalArgumentException(field + " " + reason);
    }
  }

  /** The method's defaults for a placeholder and superclass. */
  public static TrainingConfig defaults(String placeholder, String superclass) {
    return new TrainingConfig(
        placeholder,
        superclass,
        400,
        4,
        4,
        0.03f,
        0.006f,
        0.01f,
        0.75f,
        0.10f,
        0.99f,
        Flip.AUTO,
        0,
        DEFAULT_TEMPLATES,
        0.70f,
        0.15f,
        50,
        0f,
        0f,
        GateScope.DEFAULT,
        0f);
  }

  public TrainingConfig withSteps(int v) {
    Copy c = new Copy(this);
    c.steps = v;
    return c.build();
  }

  public TrainingConfig withBatch(int batch, int accumulation) {
    Copy c = new Copy(this);
    c.batchSize = batch;
    c.gradientAccumulation = accumulation;
    return c.build();
  }

  public TrainingConfig withSeed(long v) {
    Copy c = new Copy(this);
    c.seed = v;
    return c.build();
  }

  public TrainingConfig withFlip(Flip v) {
    Copy c = new Copy(this);
    c.flip = v;
    return c.build();
  }

  /**
   * Whether a training draw may be mirrored: not for {@link Flip#NEVER}; the trainers ask it of the
   * config {@link #forImages} gives, where {@link Flip#AUTO} is decided.
   */
  public boolean randomFlip() {
    return flip != Flip.NEVER;
  }

  /**
   * This config for {@code data}: with {@link Flip#AUTO}, random flips only where a mirror image is
   * a view of the concept ({@link TrainingImages#mirrorSymmetric}); a flipped two-tone object is
   * one the concept never shows, and learning both halves' colours on both sides blurs it
   * (docs/perfusion.md, Training). {@link Flip#ALWAYS} and {@link Flip#NEVER} stand as asked.
   */
  public TrainingConfig forImages(TrainingImages data) {
    if (flip != Flip.AUTO) {
      return this;
    }
    return withFlip(data.mirrorSymmetric() ? Flip.ALWAYS : Flip.NEVER);
  }

  public TrainingConfig withLearningRates(float value, float embedding) {
    Copy c = new Copy(this);
    c.valueLearningRate = value;
    c.embeddingLearningRate = embedding;
    return c.build();
  }

  public TrainingConfig withTemplates(List<String> v) {
    Copy c = new Copy(this);
    c.templates = v;
    return c.build();
  }

  public TrainingConfig withCheckpointEvery(int v) {
    Copy c = new Copy(this);
    c.checkpointEvery = v;
    return c.build();
  }

  /** The gate's beta and tau while training (the paper's 0.75 and 0.10 by default). */
  public TrainingConfig withTrainingGate(float beta, float tau) {
    Copy c = new Copy(this);
    c.trainBeta = beta;
    c.trainTau = tau;
    return c.build();
  }

  /** The decay of i*'s running average of the word's encoding (the paper's 0.99 by default). */
  public TrainingConfig withEmaDecay(float v) {
    Copy c = new Copy(this);
    c.emaDecay = v;
    return c.build();
  }

  /**
   * Beyond the paper (docs/perfusion.md): after every optimiser step the concept word's embedding
   * is scaled down to at most {@code v} times the norm of the superclass's embedding, so that the
   * text encoder reads the new word like the words it was trained on; 0 (the default, the paper's
   * behaviour) leaves it free.
   */
  public TrainingConfig withEmbeddingNormCap(float v) {
    Copy c = new Copy(this);
    c.embeddingNormCap = v;
    return c.build();
  }

  /**
   * Beyond the paper (docs/perfusion.md): the weight of the image outside the concept's mask in the
   * loss, each region averaged over its own area, against 1 for the concept; 0 (the default, the
   * paper's masked loss) ignores everything outside the concept. No effect without masks.
   */
  public TrainingConfig withBackgroundWeight(float v) {
    Copy c = new Copy(this);
    c.backgroundWeight = v;
    return c.build();
  }

  /**
   * Beyond the paper (docs/perfusion.md): with {@link GateScope#WORD} the training edit opens only
   * on the concept word's own token, as generation then does, so the V targets learn to carry the
   * concept from that token alone; {@link GateScope#ALL} (the default) is the paper's.
   */
  public TrainingConfig withGateScope(GateScope v) {
    Copy c = new Copy(this);
    c.gateScope = v;
    return c.build();
  }

  /**
   * Beyond the paper (docs/perfusion.md): a softly locked key. The K targets start at the locked
   * value W_k i_super and are learned at {@code v} times the V targets' learning rate, so the key
   * moves slowly away from the superclass's while the value carries the concept; 0 (the default) is
   * the paper's locked key, 1 learns K like V (the no-key-lock ablation's training).
   */
  public TrainingConfig withKeyRate(float v) {
    Copy c = new Copy(this);
    c.keyRate = v;
    return c.build();
  }

  /** Whether the K targets are learned (a softly locked key) rather than locked. */
  public boolean learnsKeys() {
    return keyRate > 0;
  }

  /** A mutable copy, so that each with-method names only what it changes. */
  private static final class Copy {
    String placeholder;
    String superclass;
    int steps;
    int batchSize;
    int gradientAccumulation;
    float valueLearningRate;
    float embeddingLearningRate;
    float weightDecay;
    float trainBeta;
    float trainTau;
    float emaDecay;
    Flip flip;
    long seed;
    List<String> templates;
    float inferenceBeta;
    float inferenceTau;
    int checkpointEvery;
    float embeddingNormCap;
    float backgroundWeight;
    GateScope gateScope;
    float keyRate;

    Copy(TrainingConfig t) {
      placeholder = t.placeholder;
      superclass = t.superclass;
      steps = t.steps;
      batchSize = t.batchSize;
      gradientAccumulation = t.gradientAccumulation;
      valueLearningRate = t.valueLearningRate;
      embeddingLearningRate = t.embeddingLearningRate;
      weightDecay = t.weightDecay;
      trainBeta = t.trainBeta;
      trainTau = t.trainTau;
      emaDecay = t.emaDecay;
      flip = t.flip;
      seed = t.seed;
      templates = t.templates;
      inferenceBeta = t.inferenceBeta;
      inferenceTau = t.inferenceTau;
      checkpointEvery = t.checkpointEvery;
      embeddingNormCap = t.embeddingNormCap;
      backgroundWeight = t.backgroundWeight;
      gateScope = t.gateScope;
      keyRate = t.keyRate;
    }

    TrainingConfig build() {
      return new TrainingConfig(
          placeholder,
          superclass,
          steps,
          batchSize,
          gradientAccumulation,
          valueLearningRate,
          embeddingLearningRate,
          weightDecay,
          trainBeta,
          trainTau,
          emaDecay,
          flip,
          seed,
          templates,
          inferenceBeta,
          inferenceTau,
          checkpointEvery,
          embeddingNormCap,
          backgroundWeight,
          gateScope,
          keyRate);
    }
  }

  /** What a concept file records of its training. */
  public Map<String, String> describe() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("steps", Integer.toString(steps));
    m.put("batch_size", Integer.toString(batchSize));
    m.put("gradient_accumulation", Integer.toString(gradientAccumulation));
    m.put("lr_value", Float.toString(valueLearningRate));
    m.put("lr_embedding", Float.toString(embeddingLearningRate));
    m.put("weight_decay", Float.toString(weightDecay));
    m.put("train_beta", Float.toString(trainBeta));
    m.put("train_tau", Float.toString(trainTau));
    m.put("ema_decay", Float.toString(emaDecay));
    m.put("random_flip", Boolean.toString(randomFlip()));
    m.put("seed", Long.toString(seed));
    if (embeddingNormCap > 0) {
      m.put("embedding_norm_cap", Float.toString(embeddingNormCap));
    }
    if (backgroundWeight > 0) {
      m.put("background_weight", Float.toString(backgroundWeight));
    }
    if (gateScope != GateScope.DEFAULT) {
      m.put(GateScope.KEY, gateScope.id());
    }
    if (keyRate > 0) {
      m.put(KEY_RATE, Float.toString(keyRate));
    }
    return m;
  }
}
