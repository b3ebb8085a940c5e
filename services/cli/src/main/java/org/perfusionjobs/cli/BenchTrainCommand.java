package org.perfusionjobs.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.perfusionjobs.basemodel.TrainingStepBench;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion bench-train}: where the time of one base-model training step goes ({@link
 * TrainingStepBench}: train-base's own trainer, options and weight average), so that the 90-minute
 * budget can be spent on the part that needs it.
 */
@Command(
    name = "bench-train",
    mixinStandardHelpOptions = true,
    description =
        "Time the phases of one text encoder + UNet training step (forward, backward, AdamW, weight"
            + " average).")
final class BenchTrainCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      required = true,
      description =
          "world model folder whose text encoder and UNet are trained (weights are changed in"
              + " memory only)")
  Path model;

  @Option(
      names = "--batch",
      defaultValue = "16",
      description = "batch size (default: ${DEFAULT-VALUE}, train-base's)")
  int batch;

  @Option(
      names = "--repeats",
      defaultValue = "30",
      description = "timed steps (default: ${DEFAULT-VALUE}), after 3 warm-up steps")
  int repeats;

  @Option(
      names = "--frozen-text",
      description = "the text encoder frozen (train-base's last phase)")
  boolean frozenText;

  @Override
  public Integer call() throws Exception {
    if (batch < 1) {
      throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
    }
    if (repeats < 1) {
      throw new IllegalArgumentException("--repeats must be at least 1, got " + repeats);
    }
    PrintWriter out = spec.commandLine().getOut();
    out.printf(
        "threads: %s, cpus: %d, batch %d, text encoder %s%n",
        System.getenv().getOrDefault("OMP_NUM_THREADS", "libtorch default"),
        Runtime.getRuntime().availableProcessors(),
        batch,
        frozenText ? "frozen" : "trained");
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu())) {
      TrainingStepBench.Report r = TrainingStepBench.run(sd, batch, repeats, frozenText);
      out.printf("%d parameter tensors, %,d values%n", r.parameterTensors(), r.parameterValues());
      Map<String, double[]> ms = r.millis();
      double step = BenchCommand.median(ms.get("step"));
      for (String p : TrainingStepBench.PHASES) {
        double med = BenchCommand.median(ms.get(p));
        out.printf(
            "%-9s %s, %4.1f%% of the median step%n",
            p, BenchCommand.stats(ms.get(p)), 100 * med / step);
      }
      double fwd = BenchCommand.median(ms.get("forward"));
      long flops = r.forwardFlops();
      out.printf(
          "forward: %.2f GFLOP (conv + linear + attention matmuls), %.1f GFLOP/s; backward about"
              + " twice the FLOPs: %.1f GFLOP/s%n",
          flops / 1e9,
          flops / fwd / 1e6,
          2 * flops / BenchCommand.median(ms.get("backward")) / 1e6);
    }
    return 0;
  }
}
