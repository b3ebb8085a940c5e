package org.perfusionjobs.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.perfusionjobs.basemodel.BaseModelBuilder;
import org.perfusionjobs.engine.nn.FlopCounter;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.NoiseSchedule;
import org.perfusionjobs.engine.train.DiffusionTrainer;
import org.perfusionjobs.engine.train.WeightAverage;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code perfusion bench-train}: where the time of one base-model training step goes (the step of
 * {@code train-base}'s text encoder + UNet stage, run by its own {@link DiffusionTrainer} with its
 * options: batch of world captions, forward, backward, AdamW, weight average), so that the 90-minute
 * budget can be spent on the part that needs it.
 */
@Command(name = "bench-train", mixinStandardHelpOptions = true,
    description = "Time the phases of one text encoder + UNet training step (forward, backward, AdamW, weight average).")
final class BenchTrainCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, description = "world model folder whose text encoder and UNet are trained (weights are changed in memory only)")
  Path model;

  @Option(names = "--batch", defaultValue = "16", description = "batch size (default: ${DEFAULT-VALUE}, train-base's)")
  int batch;

  @Option(names = "--repeats", defaultValue = "30", description = "timed steps (default: ${DEFAULT-VALUE}), after 3 warm-up steps")
  int repeats;

  @Option(names = "--frozen-text", description = "the text encoder frozen (train-base's last phase)")
  boolean frozenText;

  private static final String[] PHASES = {"inputs", "forward", "backward", "adamw", "average", "step"};

  @Override
  public Integer call() throws Exception {
    if (batch < 1) {
      throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
    }
    if (repeats < 1) {
      throw new IllegalArgumentException("--repeats must be at least 1, got " + repeats);
    }
    PrintWriter out = spec.commandLine().getOut();
    out.printf("threads: %s, cpus: %d, batch %d, text encoder %s%n", System.getenv().getOrDefault("OMP_NUM_THREADS", "libtorch default"),
        Runtime.getRuntime().availableProcessors(), batch, frozenText ? "frozen" : "trained");
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu()); NDManager m = sd.manager().newSubManager()) {
      List<String> captions = new World().samples(11, batch).map(Sample::caption).toList();
      NDArray latents = m.randomNormal(sd.latentShape(batch, sd.defaultImageSize(), sd.defaultImageSize()));
      NDArray pixelWeights = m.ones(new Shape(batch, 1, latents.getShape().get(2), latents.getShape().get(3)));
      Map<String, double[]> ms = new LinkedHashMap<>();
      for (String p : PHASES) {
        ms.put(p, new double[repeats]);
      }
      long flops = 0;
      // train-base's trainer and options, so the figures are those of its loop
      BaseModelBuilder.Settings settings = BaseModelBuilder.Settings.defaults();
      try (DiffusionTrainer trainer = new DiffusionTrainer(sd.textEncoder(), sd.tokenizer(), sd.unet(), NoiseSchedule.of(sd.schedulerConfig()),
              BaseModelBuilder.diffusionOptions(settings, frozenText));
          WeightAverage average = new WeightAverage(sd.unet().namedParameters(), settings.unetAverageDecay())) {
        List<Parameter> params = trainer.optimizer().parameters();
        out.printf("%d parameter tensors, %,d values%n", params.size(), params.stream().mapToLong(p -> p.get().size()).sum());
        for (int i = -3; i < repeats; i++) {
          if (i == 0) {
            FlopCounter.start(); // counts the forward pass's modules; autograd's backward is not counted
          }
          DiffusionTrainer.StepTimes t = trainer.step(latents, captions, 100 + i, pixelWeights).times();
          if (i == 0) {
            flops = FlopCounter.stop();
          }
          long a0 = System.nanoTime();
          average.update();
          long averageNanos = System.nanoTime() - a0;
          if (i >= 0) {
            long[] nanos = {t.inputsNanos(), t.forwardNanos(), t.backwardNanos(), t.optimizerNanos(), averageNanos};
            double total = 0;
            for (int k = 0; k < nanos.length; k++) {
              ms.get(PHASES[k])[i] = nanos[k] / 1e6;
              total += nanos[k] / 1e6;
            }
            ms.get("step")[i] = total;
          }
        }
      }
      double step = BenchCommand.median(ms.get("step"));
      for (String p : PHASES) {
        double med = BenchCommand.median(ms.get(p));
        out.printf("%-9s %s, %4.1f%% of the median step%n", p, BenchCommand.stats(ms.get(p)), 100 * med / step);
      }
      double fwd = BenchCommand.median(ms.get("forward"));
      out.printf("forward: %.2f GFLOP (conv + linear + attention matmuls), %.1f GFLOP/s; backward about twice the FLOPs: %.1f GFLOP/s%n", flops / 1e9,
          flops / fwd / 1e6, 2 * flops / BenchCommand.median(ms.get("backward")) / 1e6);
    }
    return 0;
  }
}
