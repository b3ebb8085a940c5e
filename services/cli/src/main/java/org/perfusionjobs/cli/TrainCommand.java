package org.perfusionjobs.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.perfusion.Covariance;
import org.perfusionjobs.engine.perfusion.Flip;
import org.perfusionjobs.engine.perfusion.GateScope;
import org.perfusionjobs.engine.perfusion.PerfusionAblation;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.perfusion.PerfusionTrainer;
import org.perfusionjobs.engine.perfusion.TrainerState;
import org.perfusionjobs.engine.perfusion.TrainingConfig;
import org.perfusionjobs.engine.perfusion.TrainingImages;
import org.perfusionjobs.engine.perfusion.TrainingTemplates;
import org.perfusionjobs.engine.personalization.BaselineConceptFile;
import org.perfusionjobs.engine.personalization.BaselineConfig;
import org.perfusionjobs.engine.personalization.BaselineMethod;
import org.perfusionjobs.engine.personalization.BaselineTrainer;
import org.perfusionjobs.engine.personalization.Personalization;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.evaluator.concepts.ConceptCaptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code perfusion train}: learn one concept from a folder of images. */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    description =
        "Learn a concept with Perfusion (key-locked rank-1 editing) or a baseline method"
            + " (--method).")
final class TrainCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--method",
      defaultValue = "perfusion",
      description =
          "perfusion, textual-inversion, custom-diffusion, lora or dreambooth (default:"
              + " ${DEFAULT-VALUE})")
  String method;

  @Option(
      names = "--rank",
      description = "lora only: rank of the factors (default: " + DEFAULT_RANK + ")")
  Integer rank;

  @Option(
      names = "--lr",
      description =
          "custom-diffusion, lora, dreambooth: learning rate of the method's weights (default: the"
              + " method's own, docs/perfusion.md#baselines); textual inversion's is"
              + " --lr-embedding")
  Float lr;

  @Option(
      names = "--class-images",
      description =
          "dreambooth only: superclass images the base model draws for prior preservation (default:"
              + " "
              + DEFAULT_CLASS_IMAGES
              + ")")
  Integer classImages;

  @Option(
      names = "--class-image-steps",
      description =
          "dreambooth only: denoising steps per superclass image (default: "
              + DEFAULT_CLASS_IMAGE_STEPS
              + ")")
  Integer classImageSteps;

  @Option(
      names = "--ablation",
      defaultValue = "none",
      description =
          "perfusion only: train without one part of the method (issue 18 item 6): no-key-lock (K"
              + " targets learned like V), no-gate (gate 1 on every token) or no-cinv (identity in"
              + " place of Cinv); recorded in the file, so generate and eval apply it (default:"
              + " ${DEFAULT-VALUE}, the paper's method)")
  String ablation;

  static final int DEFAULT_RANK = 4;
  static final int DEFAULT_CLASS_IMAGES = 16;
  static final int DEFAULT_CLASS_IMAGE_STEPS = 25;

  @Option(names = "--model", required = true, description = "diffusers folder of the base model")
  Path model;

  @Option(
      names = "--images",
      required = true,
      description =
          "folder of training images (png/jpg); files named *_mask.png are soft masks of the image"
              + " with the same stem")
  Path images;

  @Option(
      names = "--word",
      required = true,
      description = "placeholder word for the concept, e.g. zwx (becomes one new token)")
  String word;

  @Option(
      names = "--superclass",
      required = true,
      description = "what the concept is, e.g. teddy or \"bird bath\"")
  String superclass;

  @Option(names = "--out", required = true, description = "concept file to write (.safetensors)")
  Path out;

  @Option(
      names = "--covariance",
      description = "Cinv file (default: <model>/" + Covariance.FILE_NAME + ")")
  Path covariance;

  @Option(
      names = "--steps",
      defaultValue = "400",
      description = "optimiser steps (default: ${DEFAULT-VALUE})")
  int steps;

  @Option(
      names = "--batch",
      defaultValue = "4",
      description = "images per micro-batch (default: ${DEFAULT-VALUE})")
  int batch;

  @Option(
      names = "--accumulation",
      defaultValue = "4",
      description = "micro-batches per step (default: ${DEFAULT-VALUE})")
  int accumulation;

  @Option(names = "--seed", defaultValue = "0", description = "seed (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(
      names = "--flip",
      defaultValue = "auto",
      description =
          "random horizontal flips: auto (only when the training objects are mirror-symmetric),"
              + " always (objects photographed from either side) or never (default:"
              + " ${DEFAULT-VALUE})")
  String flip;

  @Option(
      names = "--checkpoint",
      description = "trainer state file: resumed from if present, written every 50 steps")
  Path checkpoint;

  @Option(
      names = "--template",
      description =
          "training prompt with {} for the word; repeatable (default: the model folder's "
              + TrainingTemplates.FILE_NAME
              + ", else the method's photo templates)")
  List<String> templates = new ArrayList<>();

  @Option(
      names = "--captions",
      defaultValue = "templates",
      description =
          "perfusion: templates (the paper's: every image with every template) or per-image"
              + " (prompts that say each image's true cell, size and background, read from its"
              + " mask; beyond the paper) (default: ${DEFAULT-VALUE})")
  String captions;

  @Option(
      names = "--gate-scope",
      description =
          "perfusion: all (the paper's) or word (in training and at generation the gate is forced"
              + " to 0 off the concept word; beyond the paper); recorded in the file as"
              + " train.gate_scope (default: all)")
  String gateScope;

  @Option(
      names = "--embedding-norm-cap",
      description =
          "perfusion: after each step, scale the word's embedding down to at most this many times"
              + " the norm of the superclass's embedding (beyond the paper); 0: off, the paper's"
              + " (default: ${DEFAULT-VALUE})")
  float embeddingNormCap = 0f;

  @Option(
      names = "--background-weight",
      description =
          "perfusion: weight of the image outside each mask in the loss, against 1 for the"
              + " concept, each averaged over its own area (beyond the paper); 0: the paper's"
              + " masked loss (default: ${DEFAULT-VALUE})")
  float backgroundWeight = 0f;

  @Option(
      names = "--key-rate",
      description =
          "perfusion: a softly locked key (beyond the paper): the K targets start at the locked"
              + " W_k i_super and are learned at this many times the V targets' learning rate;"
              + " 0: the paper's locked key, 0.1: the measured setting; recorded in the file as"
              + " train.key_rate (default: 0)")
  Float keyRate;

  @Option(
      names = "--train-beta",
      description = "perfusion: the gate's beta while training (default: the paper's 0.75)")
  Float trainBeta;

  @Option(
      names = "--train-tau",
      description = "perfusion: the gate's tau while training (default: the paper's 0.10)")
  Float trainTau;

  @Option(
      names = "--ema-decay",
      description =
          "perfusion: decay of i*, the running average of the word's encoding, in [0, 1)"
              + " (default: the paper's 0.99)")
  Float emaDecay;

  @Option(
      names = "--lr-value",
      description = "learning rate of the V targets (default: ${DEFAULT-VALUE})")
  float lrValue = TrainingConfig.defaults("w", "s").valueLearningRate();

  @Option(
      names = "--lr-embedding",
      description =
          "learning rate of the word embedding (Perfusion, textual-inversion, custom-diffusion)"
              + " (default: ${DEFAULT-VALUE})")
  float lrEmbedding = TrainingConfig.defaults("w", "s").embeddingLearningRate();

  @Override
  public Integer call() throws Exception {
    var err = spec.commandLine().getErr();
    BaselineMethod baseline =
        checkMethodOptions(); // before anything slow: a wrong method or option fails at once
    TrainingImages data = readImages(images);
    if (!List.of("templates", "per-image").contains(captions)) {
      throw new IllegalArgumentException(
          "--captions '" + captions + "': expected templates or per-image");
    }
    GateScope scope = gateScope == null ? GateScope.DEFAULT : GateScope.parse(gateScope);
    Flip flipMode;
    try {
      flipMode = Flip.parse(flip);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--flip '" + flip + "': expected auto (the default), always or never");
    }
    if (baseline != null
        && (captions.equals("per-image")
            || gateScope != null
            || embeddingNormCap != 0
            || backgroundWeight != 0
            || keyRate != null
            || trainBeta != null
            || trainTau != null
            || emaDecay != null)) {
      throw new IllegalArgumentException(
          "--captions per-image, --gate-scope, --embedding-norm-cap, --background-weight,"
              + " --key-rate, --train-beta, --train-tau and --ema-decay are Perfusion's");
    }
    TrainingConfig cfg =
        TrainingConfig.defaults(word, superclass)
            .withSteps(steps)
            .withBatch(batch, accumulation)
            .withSeed(seed)
            .withFlip(flipMode)
            .withLearningRates(lrValue, lrEmbedding)
            .withEmbeddingNormCap(embeddingNormCap)
            .withBackgroundWeight(backgroundWeight)
            .withGateScope(scope)
            .withKeyRate(keyRate == null ? 0f : keyRate);
    cfg =
        cfg.withTrainingGate(
                trainBeta == null ? cfg.trainBeta() : trainBeta,
                trainTau == null ? cfg.trainTau() : trainTau)
            .withEmaDecay(emaDecay == null ? cfg.emaDecay() : emaDecay);
    double asymmetry = flipMode == Flip.NEVER ? 0 : data.mirrorAsymmetry();
    if (asymmetry > TrainingImages.MIRROR_ASYMMETRY_LIMIT) {
      err.printf(
          Locale.ROOT,
          flipMode == Flip.AUTO
              ? "random flip off: the concept is not mirror-symmetric (asymmetry %.2f > %.2f), so"
                  + " a flipped image is not a view of it (--flip always if it is)%n"
              : "random flip on (--flip always) though the concept is not mirror-symmetric"
                  + " (asymmetry %.2f > %.2f)%n",
          asymmetry,
          TrainingImages.MIRROR_ASYMMETRY_LIMIT);
    }
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu())) {
      cfg =
          cfg.withTemplates(
              templates.isEmpty() ? PerfusionModel.of(sd).trainingTemplates() : templates);
      if (baseline != null) {
        return trainBaseline(sd, baseline, data, cfg);
      }
      if (captions.equals("per-image")) {
        if (data.masks() == null) {
          throw new IllegalArgumentException(
              "--captions per-image reads each image's mask (<name>_mask.png); "
                  + images
                  + " has none");
        }
        data = ConceptCaptions.withCaptions(data, sd.defaultImageSize());
      }
      long t0 = System.nanoTime();
      if (covariance != null) {
        PerfusionModel.of(sd).setCovariance(Covariance.load(covariance));
      }
      TrainerState resume =
          checkpoint != null && Files.isRegularFile(checkpoint)
              ? TrainerState.fromBytes(Files.readAllBytes(checkpoint))
              : null;
      if (resume != null) {
        err.printf("resuming from %s at step %d%n", checkpoint, resume.completedSteps());
      }
      ProgressBar bar = new ProgressBar(err, "train");
      PerfusionAblation ablated = PerfusionAblation.parse(ablation);
      PerfusionTrainer trainer = PerfusionModel.of(sd).trainer().withAblation(ablated);
      boolean learnsKeys = PerfusionTrainer.keyRate(ablated, cfg) > 0;
      Concept c =
          trainer.train(
              data,
              cfg,
              resume,
              p ->
                  bar.update(
                      p.step(),
                      p.total(),
                      p.elapsed(),
                      p.eta(),
                      String.format("loss %.4f", p.loss())),
              state -> {
                if (checkpoint != null) {
                  try {
                    Files.write(checkpoint, state.toBytes());
                  } catch (IOException e) {
                    throw new UncheckedIOException(e);
                  }
                }
              },
              () -> false);
      double seconds = (System.nanoTime() - t0) / 1e9;
      c = scope.apply(c);
      ConceptFile.write(c, out);
      long trained = c.embedding().length;
      for (float[] v : c.valueTargets().values()) {
        trained += learnsKeys ? 2L * v.length : v.length;
      }
      err.printf(
          "concept '%s' (%s) -> %s (%d bytes)%n",
          c.placeholder(), c.superclass(), out, Files.size(out));
      err.printf(
          "method perfusion%s: file %d bytes, training %.1f s (%.2f s per step), %d trained"
              + " parameters (%s targets + embedding)%n",
          (ablated == PerfusionAblation.NONE ? "" : " (ablation " + ablated.word() + ")")
              + (cfg.learnsKeys() ? " (key rate " + cfg.keyRate() + ")" : ""),
          Files.size(out),
          seconds,
          seconds / steps,
          trained,
          learnsKeys ? "K and V" : "V");
      spec.commandLine().getOut().println(out);
    }
    return 0;
  }

  /**
   * The baseline method asked for (null: Perfusion), after checking that every method-specific
   * option fits it; a wrong method name or a misplaced option is a one-line error.
   */
  private BaselineMethod checkMethodOptions() {
    if (!Personalization.methodNames().contains(method)) {
      throw new IllegalArgumentException(
          "--method '"
              + method
              + "': unknown; known: "
              + String.join(", ", Personalization.methodNames()));
    }
    BaselineMethod m =
        method.equals(Personalization.PERFUSION) ? null : Personalization.baseline(method);
    if (rank != null && (m == null || !m.usesRank())) {
      throw new IllegalArgumentException("--rank is LoRA's (--method lora), not " + method + "'s");
    }
    if ((classImages != null || classImageSteps != null) && (m == null || !m.priorPreservation())) {
      throw new IllegalArgumentException(
          "--class-images and --class-image-steps are DreamBooth's (--method dreambooth), not "
              + method
              + "'s");
    }
    if (lr != null && (m == null || !m.trainsWeights())) {
      throw new IllegalArgumentException(
          "--lr sets the weights' learning rate of custom-diffusion, lora and dreambooth; "
              + method
              + " trains "
              + (m == null ? "V targets (--lr-value)" : "only the embedding (--lr-embedding)"));
    }
    PerfusionAblation a = PerfusionAblation.parse(ablation); // an unknown name fails here
    if (a != PerfusionAblation.NONE && m != null) {
      throw new IllegalArgumentException(
          "--ablation is Perfusion's (--method perfusion), not " + method + "'s");
    }
    if (keyRate != null && !(keyRate >= 0 && keyRate <= 1)) {
      throw new IllegalArgumentException(
          "--key-rate "
              + keyRate
              + ": expected a number in 0..1 (0: the paper's locked key, 0.1: the softly locked"
              + " key)");
    }
    if (keyRate != null && keyRate > 0 && a == PerfusionAblation.NO_KEY_LOCK) {
      throw new IllegalArgumentException(
          "--key-rate conflicts with --ablation no-key-lock, which learns K at the V targets'"
              + " rate; give one of the two");
    }
    if (m != null && checkpoint != null) {
      throw new IllegalArgumentException("--checkpoint is Perfusion's only");
    }
    return m;
  }

  private int trainBaseline(
      StableDiffusionPipeline sd, BaselineMethod m, TrainingImages data, TrainingConfig cfg)
      throws java.io.IOException {
    var err = spec.commandLine().getErr();
    float weights = lr != null ? lr : m.defaultLearningRate();
    BaselineConfig bc =
        new BaselineConfig(
            cfg,
            weights,
            lrEmbedding,
            rank != null ? rank : DEFAULT_RANK,
            classImages != null ? classImages : DEFAULT_CLASS_IMAGES,
            classImageSteps != null ? classImageSteps : DEFAULT_CLASS_IMAGE_STEPS,
            1f);
    ProgressBar bar = new ProgressBar(err, "train " + method);
    long t0 = System.nanoTime();
    BaselineTrainer.Result r =
        new BaselineTrainer(sd)
            .train(
                m,
                data,
                bc,
                p ->
                    bar.update(
                        p.step(),
                        p.total(),
                        p.elapsed(),
                        p.eta(),
                        String.format("loss %.4f", p.loss())),
                () -> false);
    double seconds = (System.nanoTime() - t0) / 1e9;
    double drawing = r.classImageTime().toNanos() / 1e9;
    BaselineConceptFile.write(r.concept(), out);
    err.printf("concept '%s' (%s) -> %s (%d bytes)%n", word, superclass, out, Files.size(out));
    err.printf(
        "method %s: file %d bytes, training %.1f s (%.2f s per step)%s, %d trained parameters%n",
        method,
        Files.size(out),
        seconds,
        (seconds - drawing) / steps,
        m.priorPreservation()
            ? String.format(", of which %.1f s drawing %d class images", drawing, bc.classImages())
            : "",
        r.trainedParameters());
    spec.commandLine().getOut().println(out);
    return 0;
  }

  static TrainingImages readImages(Path dir) throws java.io.IOException {
    if (!Files.isDirectory(dir)) {
      throw new IOException("image folder " + dir + " does not exist");
    }
    List<Path> files;
    try (var s = Files.list(dir)) {
      files =
          s.filter(p -> p.toString().toLowerCase().matches(".*\\.(png|jpe?g)$")).sorted().toList();
    }
    List<BufferedImage> imgs = new ArrayList<>();
    List<BufferedImage> masks = new ArrayList<>();
    boolean anyMask = false;
    for (Path f : files) {
      String name = f.getFileName().toString();
      if (name.matches("(?i).*_mask\\.png$")) {
        continue;
      }
      imgs.add(ImageCodec.read(f));
      Path mask = f.resolveSibling(name.replaceAll("\\.[^.]+$", "") + "_mask.png");
      if (Files.isRegularFile(mask)) {
        masks.add(ImageCodec.read(mask));
        anyMask = true;
      } else {
        masks.add(null);
      }
    }
    if (imgs.isEmpty()) {
      throw new IOException("image folder " + dir + " has no .png or .jpg images");
    }
    return new TrainingImages(imgs, anyMask ? masks : null);
  }
}
