package org.perfusionjobs.basemodel;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.nn.FlopCounter;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.NoiseSchedule;
import org.perfusionjobs.engine.train.DiffusionTrainer;
import org.perfusionjobs.engine.train.WeightAverage;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;

/**
 * Where the time of one step of {@link BaseModelBuilder}'s text encoder + UNet stage goes: the
 * recipe's own {@link DiffusionTrainer} with its options (batch of world captions, forward,
 * backward, AdamW) and its weight average, timed phase by phase. The model's weights change in
 * memory only.
 */
public final class TrainingStepBench {
  /** Phases in step order; "step" is their sum. */
  public static final List<String> PHASES =
      List.of("inputs", "forward", "backward", "adamw", "average", "step");

  private static final int WARMUP_STEPS = 3;
  private static final long CAPTION_SCENES = 11;
  private static final long FIRST_STEP_SEED = 100;

  /**
   * @param millis per phase, the time of each timed step
   * @param forwardFlops multiply-adds of one forward pass (conv, linear, attention matmuls) times 2
   */
  public record Report(
      int parameterTensors,
      long parameterValues,
      long forwardFlops,
      Map<String, double[]> millis) {}

  private TrainingStepBench() {}

  public static Report run(StableDiffusionPipeline sd, int batch, int repeats, boolean frozenText) {
    if (batch < 1) {
      throw new IllegalArgumentException("batch must be at least 1, got " + batch);
    }
    if (repeats < 1) {
      throw new IllegalArgumentException("repeats must be at least 1, got " + repeats);
    }
    try (NDManager m = sd.manager().newSubManager()) {
      List<String> captions =
          new World().samples(CAPTION_SCENES, batch).map(Sample::caption).toList();
      NDArray latents =
          m.randomNormal(sd.latentShape(batch, sd.defaultImageSize(), sd.defaultImageSize()));
      NDArray pixelWeights =
          m.ones(new Shape(batch, 1, latents.getShape().get(2), latents.getShape().get(3)));
      Map<String, double[]> ms = new LinkedHashMap<>();
      for (String p : PHASES) {
        ms.put(p, new double[repeats]);
      }
      long flops = 0;
      BaseModelBuilder.Settings settings = BaseModelBuilder.Settings.defaults();
      try (DiffusionTrainer trainer =
              new DiffusionTrainer(
                  sd.textEncoder(),
                  sd.tokenizer(),
                  sd.unet(),
                  NoiseSchedule.of(sd.schedulerConfig()),
                  BaseModelBuilder.diffusionOptions(settings, frozenText));
          WeightAverage average =
              new WeightAverage(
                  sd.unet().namedParameters(), settings.optimiser().unetAverageDecay())) {
        List<Parameter> params = trainer.optimizer().parameters();
        int tensors = params.size();
        long values = params.stream().mapToLong(p -> p.get().size()).sum();
        for (int i = -WARMUP_STEPS; i < repeats; i++) {
          if (i == 0) {
            FlopCounter
                .start(); // counts the forward pass's modules; autograd's backward is not counted
          }
          DiffusionTrainer.StepTimes t =
              trainer.step(latents, captions, FIRST_STEP_SEED + i, pixelWeights).times();
          if (i == 0) {
            flops = FlopCounter.stop();
          }
          long a0 = System.nanoTime();
          average.update();
          long averageNanos = System.nanoTime() - a0;
          if (i >= 0) {
            long[] nanos = {
              t.inputsNanos(), t.forwardNanos(), t.backwardNanos(), t.optimizerNanos(), averageNanos
            };
            double total = 0;
            for (int k = 0; k < nanos.length; k++) {
              ms.get(PHASES.get(k))[i] = nanos[k] / 1e6;
              total += nanos[k] / 1e6;
            }
            ms.get("step")[i] = total;
          }
        }
        return new Report(tensors, values, flops, ms);
      }
    }
  }
}
