package org.perfusionjobs.evaluator.prompts;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.pipeline.Conditioner;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;
import org.perfusionjobs.evaluator.Evaluator;
import org.perfusionjobs.evaluator.ScenePrediction;

/**
 * Generates one image per prompt (seed = base seed + prompt index) and scores each with the
 * evaluator. The same settings and seeds give the same images, so runs that differ only in, say,
 * beta compare like for like.
 */
public final class PromptRun {
  /**
   * Sampling settings of a run; {@code globalLock}: Perfusion's global key-locking ({@link
   * PerfusionModel#conditioner} checks it has a concept).
   */
  public record Settings(
      int steps,
      float guidanceScale,
      SamplerKind sampler,
      long seed,
      List<ConceptUse> concepts,
      boolean globalLock) {
    public Settings {
      concepts = List.copyOf(concepts);
    }

    /** Local key-locking (or no concept). */
    public Settings(
        int steps, float guidanceScale, SamplerKind sampler, long seed, List<ConceptUse> concepts) {
      this(steps, guidanceScale, sampler, seed, concepts, false);
    }
  }

  /**
   * Images, what the evaluator found in them, their scores, the totals and the mean seconds per
   * image.
   */
  public record Result(
      List<EvalPrompt> prompts,
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
    List<BufferedImage> images = new ArrayList<>(prompts.size());
    long t0 = System.nanoTime();
    for (int i = 0; i < prompts.size(); i++) {
      GenerateRequest req =
          GenerateRequest.builder(prompts.get(i).text())
              .optSteps(s.steps())
              .optGuidanceScale(s.guidanceScale())
              .optSampler(s.sampler())
              .optSeed(s.seed() + i)
              .optSize(64, 64)
              .optConditioner(conditioner)
              .build();
      GenerateResult r = sd.generate(req);
      images.add(r.images().get(0));
      done.accept(i + 1);
    }
    double perImage = (System.nanoTime() - t0) / 1e9 / Math.max(1, prompts.size());
    List<ScenePrediction> found = evaluator.predict(images);
    List<PromptScore> scores = new ArrayList<>(prompts.size());
    for (int i = 0; i < prompts.size(); i++) {
      scores.add(PromptScore.of(prompts.get(i), found.get(i)));
    }
    return new Result(List.copyOf(prompts), images, found, scores, EvalReport.of(scores), perImage);
  }
}
