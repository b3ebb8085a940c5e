package org.perfusionjobs.evaluator.prompts;

import ai.djl.ndarray.NDScope;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.IntConsumer;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.personalization.ConceptGuidance;
import org.perfusionjobs.engine.pipeline.Conditioner;
import org.perfusionjobs.engine.pipeline.DenoisingBatch;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;
import org.perfusionjobs.evaluator.Evaluator;
import org.perfusionjobs.evaluator.ScenePrediction;

/**
 * Generates one image per prompt (seed = base seed + prompt index) and scores each with the
 * evaluator. The same settings and seeds give the same images, so runs that differ only in, say,
 * beta compare like for like. Up to {@link Settings#imagesPerCall} prompts share each UNet call
 * ({@link DenoisingBatch}): each keeps its own text, seed and noise, and gets the image it gets
 * alone up to the rounding of a larger matrix product, while the small model's steps, which leave
 * the cores idle one image at a time, are shared.
 */
public final class PromptRun {
  /** Prompts per UNet call unless a run asks otherwise (the 64 px world model; bench-eval). */
  public static final int DEFAULT_IMAGES_PER_CALL = 8;

  /**
   * Sampling settings of a run; {@code globalLock}: Perfusion's global key-locking ({@link
   * PerfusionModel#conditioner} checks it has a concept); {@code imagesPerCall}: prompts that share
   * one UNet call (1: one after another).
   */
  public record Settings(
      int steps,
      float guidanceScale,
      SamplerKind sampler,
      long seed,
      List<ConceptUse> concepts,
      boolean globalLock,
      int imagesPerCall,
      ConceptGuidance conceptGuidance) {
    public Settings {
      concepts = List.copyOf(concepts);
      Objects.requireNonNull(conceptGuidance, "conceptGuidance");
      if (imagesPerCall < 1) {
        throw new IllegalArgumentException(
            "images per UNet call must be at least 1, got " + imagesPerCall);
      }
    }

    /** {@link #DEFAULT_IMAGES_PER_CALL} prompts per UNet call. */
    public Settings(
        int steps,
        float guidanceScale,
        SamplerKind sampler,
        long seed,
        List<ConceptUse> concepts,
        boolean globalLock) {
      this(
          steps,
          guidanceScale,
          sampler,
          seed,
          concepts,
          globalLock,
          DEFAULT_IMAGES_PER_CALL,
          ConceptGuidance.OFF);
    }

    /** Local key-locking (or no concept). */
    public Settings(
        int steps, float guidanceScale, SamplerKind sampler, long seed, List<ConceptUse> concepts) {
      this(steps, guidanceScale, sampler, seed, concepts, false);
    }

    /** The same settings with {@code n} prompts per UNet call. */
    public Settings withImagesPerCall(int n) {
      return new Settings(
          steps, guidanceScale, sampler, seed, concepts, globalLock, n, conceptGuidance);
    }
  }

  /**
   * The prompts, the text each request carried, images, what the evaluator found in them, their
   * scores, the totals and the mean seconds per image.
   */
  public record Result(
      List<EvalPrompt> prompts,
      List<String> drawn,
      List<BufferedImage> images,
      List<ScenePrediction> found,
      List<PromptScore> scores,
      EvalReport report,
      double secondsPerImage) {}

  private PromptRun() {}

  public static Result run(
      StableDiffusionPipeline sd,
      Evaluator evaluator,
      List<EvalPrompt> prompts,
      Settings s,
      IntConsumer done) {
    return run(
        sd,
        evaluator,
        prompts,
        s,
        PerfusionModel.of(sd).conditioner(s.concepts(), s.globalLock()),
        done);
  }

  /**
   * As {@link #run(StableDiffusionPipeline, Evaluator, List, Settings, IntConsumer)} with the
   * concepts of any personalization method: {@code conditioner} replaces the settings' Perfusion
   * concepts (which must then be empty).
   */
  public static Result run(
      StableDiffusionPipeline sd,
      Evaluator evaluator,
      List<EvalPrompt> prompts,
      Settings s,
      Conditioner conditioner,
      IntConsumer done) {
    return run(sd, evaluator, prompts, s, p -> new Drawing(p.text(), conditioner), done);
  }

  /**
   * How one prompt is drawn: the text its request carries (the prompt itself, or its {@link
   * RegionPrompts.Layout}'s) and its conditioner. It is scored against the prompt as asked.
   */
  public record Drawing(String text, Conditioner conditioner) {
    public Drawing {
      Objects.requireNonNull(text, "text");
      Objects.requireNonNull(conditioner, "conditioner");
    }
  }

  /**
   * As {@link #run(StableDiffusionPipeline, Evaluator, List, Settings, Conditioner, IntConsumer)}
   * with a drawing per prompt (e.g. {@link RegionPrompts}' layout around one method's conditioner);
   * prompts share UNet calls where their conditionings allow.
   */
  public static Result run(
      StableDiffusionPipeline sd,
      Evaluator evaluator,
      List<EvalPrompt> prompts,
      Settings s,
      Function<EvalPrompt, Drawing> drawings,
      IntConsumer done) {
    List<BufferedImage> images = new ArrayList<>(prompts.size());
    List<String> drawn = new ArrayList<>(prompts.size());
    long t0 = System.nanoTime();
    // One chunk at a time: its prompts start and finish together (same steps), and only one
    // chunk's requests hold latents and K/V at once.
    for (int from = 0; from < prompts.size(); from += s.imagesPerCall()) {
      int to = Math.min(prompts.size(), from + s.imagesPerCall());
      List<CompletableFuture<GenerateResult>> chunk = new ArrayList<>(to - from);
      // The scope also frees what a conditioner made outside the requests' managers.
      try (DenoisingBatch batch = new DenoisingBatch(sd, s.imagesPerCall(), Duration.ZERO);
          NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        for (int i = from; i < to; i++) {
          Drawing drawing = drawings.apply(prompts.get(i));
          String text = drawing.text();
          drawn.add(text);
          GenerateRequest.Builder request = GenerateRequest.builder(text);
          if (s.conceptGuidance().on()) {
            request.optAnchor(s.conceptGuidance().anchor(text), s.conceptGuidance().scale());
          }
          chunk.add(
              batch.submit(
                  request
                      .optSteps(s.steps())
                      .optGuidanceScale(s.guidanceScale())
                      .optSampler(s.sampler())
                      .optSeed(s.seed() + i)
                      .optSize(64, 64)
                      .optConditioner(drawing.conditioner())
                      .build()));
        }
        batch.drain();
      }
      for (CompletableFuture<GenerateResult> f : chunk) {
        images.add(DenoisingBatch.join(f).images().get(0));
        done.accept(images.size());
      }
    }
    double perImage = (System.nanoTime() - t0) / 1e9 / Math.max(1, prompts.size());
    List<ScenePrediction> found = evaluator.predict(images);
    List<PromptScore> scores = new ArrayList<>(prompts.size());
    for (int i = 0; i < prompts.size(); i++) {
      scores.add(PromptScore.of(prompts.get(i), found.get(i)));
    }
    return new Result(
        List.copyOf(prompts),
        List.copyOf(drawn),
        images,
        found,
        scores,
        EvalReport.of(scores),
        perImage);
  }
}
