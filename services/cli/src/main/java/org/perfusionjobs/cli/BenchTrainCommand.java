package org.perfusionjobs.cli;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.nn.FlopCounter;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;
import org.perfusionjobs.engine.scheduler.NoiseSchedule;
import org.perfusionjobs.engine.train.AdamW;
import org.perfusionjobs.engine.train.WeightAverage;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code perfusion bench-train}: where the time of one base-model training step goes (the step of
 * {@code train-base}'s text encoder + UNet stage: batch of world captions, forward, backward, AdamW,
 * weight average), so that the 90-minute budget can be spent on the part that needs it.
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
      NoiseSchedule schedule = NoiseSchedule.of(sd.schedulerConfig());
      Shape latentShape = sd.latentShape(batch, sd.defaultImageSize(), sd.defaultImageSize());
      List<String> captions = new World().samples(11, batch).map(Sample::caption).toList();
      List<Parameter> params = new ArrayList<>();
      if (!frozenText) {
        params.addAll(sd.textEncoder().namedParameters().values());
      }
      params.addAll(sd.unet().namedParameters().values());
      long elements = params.stream().mapToLong(p -> p.get().size()).sum();
      out.printf("%d parameter tensors, %,d values%n", params.size(), elements);
      Map<String, double[]> ms = new LinkedHashMap<>();
      for (String p : PHASES) {
        ms.put(p, new double[repeats]);
      }
      long flops = 0;
      try (AdamW adam = new AdamW(params, 1e-4f, 1e-2f); WeightAverage average = new WeightAverage(sd.unet().namedParameters(), 0.999f)) {
        for (int i = -3; i < repeats; i++) {
          long t0 = System.nanoTime();
          long t1;
          long t2;
          long t3;
          try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray latents = m.randomNormal(latentShape);
            NDArray noise = new NoiseGenerator(i + 100).normal(latents.getShape(), m);
            long[] ts = new long[batch];
            Arrays.setAll(ts, k -> (k * 61L + 7) % schedule.numTrainTimesteps());
            NDArray t = m.create(ts);
            NDArray noisy = schedule.addNoise(latents, noise, t);
            NDArray ids = sd.tokenizer().encode(captions, m);
            NDArray frozen = frozenText ? sd.textEncoder().forward(ids).stopGradient() : null;
            t1 = System.nanoTime();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
              if (i == 0) {
                FlopCounter.start();
              }
              NDArray text = frozen != null ? frozen : sd.textEncoder().forward(ids);
              NDArray pred = sd.unet().forward(noisy, t, Conditioning.of(text));
              NDArray loss = pred.sub(noise).square().mean();
              loss.getFloat();
              if (i == 0) {
                flops = FlopCounter.stop();
              }
              t2 = System.nanoTime();
              gc.backward(loss);
            }
            t3 = System.nanoTime();
            adam.step();
          }
          long t4 = System.nanoTime();
          average.update();
          long t5 = System.nanoTime();
          if (i >= 0) {
            long[] at = {t0, t1, t2, t3, t4, t5};
            for (int k = 0; k < PHASES.length - 1; k++) {
              ms.get(PHASES[k])[i] = (at[k + 1] - at[k]) / 1e6;
            }
            ms.get("step")[i] = (t5 - t0) / 1e6;
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
