package org.perfusionjobs.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion soak}: many generations in one process, printing resident memory (VmRSS) as it
 * goes, to show that per-request and per-step scoping keeps memory flat.
 */
@Command(
    name = "soak",
    mixinStandardHelpOptions = true,
    description = "Run many generations and report resident memory.")
final class SoakCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, description = "diffusers folder")
  Path model;

  @Option(
      names = "--runs",
      defaultValue = "300",
      description = "generations (default: ${DEFAULT-VALUE})")
  int runs;

  @Option(
      names = "--steps",
      defaultValue = "10",
      description = "steps per generation (default: ${DEFAULT-VALUE})")
  int steps;

  @Option(
      names = "--every",
      defaultValue = "25",
      description = "report interval (default: ${DEFAULT-VALUE})")
  int every;

  @Override
  public Integer call() throws Exception {
    var out = spec.commandLine().getOut();
    SamplerKind[] kinds = SamplerKind.values();
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu())) {
      long first = 0;
      for (int i = 1; i <= runs; i++) {
        sd.generate(
            GenerateRequest.builder("a photo of a toy car number " + i)
                .optSteps(steps)
                .optSeed(i)
                .optSampler(kinds[i % kinds.length])
                .optBatchSize(1 + i % 2)
                .build());
        if (i % every == 0 || i == 1) {
          long rss = rssKb();
          if (first == 0) {
            first = rss;
          }
          out.printf(
              "run %4d  rss %7.1f MB  (%+.1f MB since run 1)  arrays in model manager: %d%n",
              i, rss / 1024.0, (rss - first) / 1024.0, sd.manager().getManagedArrays().size());
          out.flush();
        }
      }
    }
    return 0;
  }

  static long rssKb() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }
}
