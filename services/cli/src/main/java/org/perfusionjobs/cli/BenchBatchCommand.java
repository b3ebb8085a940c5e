package org.perfusionjobs.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.pipeline.DenoisingBatch;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion bench-batch}: N users asking at once, each with their own concept setting, seed
 * and prompt, served with the generation batch limited to 1 (one at a time) and to larger sizes,
 * side by side in one run: wall time for all, mean and worst latency, UNet calls, and whether every
 * image equals its one-at-a-time version within one level.
 */
@Command(
    name = "bench-batch",
    mixinStandardHelpOptions = true,
    description =
        "Throughput of continuous batching: N concurrent requests with different concept settings,"
            + " one at a time vs batched.")
final class BenchBatchCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", description = "diffusers folder (default: the bundled world model)")
  Path model;

  @Option(names = "--concept", description = "concept file (default: the bundled demo concept)")
  Path concept;

  @Option(
      names = "--requests",
      defaultValue = "8",
      description = "requests arriving at once (default: ${DEFAULT-VALUE})")
  int requests;

  @Option(
      names = "--steps",
      defaultValue = "20",
      description = "denoising steps per request (default: ${DEFAULT-VALUE})")
  int steps;

  @Option(
      names = "--max-batch",
      split = ",",
      defaultValue = "1,2,4,8",
      description = "batch limits to compare (default: ${DEFAULT-VALUE})")
  List<Integer> limits;

  @Option(
      names = "--repeats",
      defaultValue = "2",
      description = "runs per limit, the best kept (default: ${DEFAULT-VALUE})")
  int repeats;

  @Override
  public Integer call() throws Exception {
    PrintWriter o = spec.commandLine().getOut();
    Path root = Path.of(System.getProperty("perfusion.root", "."));
    Path modelDir = model != null ? model : root.resolve("models/world-v2");
    Path conceptFile =
        concept != null ? concept : modelDir.resolve("concepts/demo/zwx.safetensors");
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(modelDir, EngineOptions.cpu())) {
      Concept c = ConceptFile.read(conceptFile);
      List<GenerateRequest> rs = requests(sd, c);
      o.printf(
          "%d requests (%s), %d steps each, guidance 5, %s px, %d threads%n",
          requests,
          describe(c),
          steps,
          sd.defaultImageSize(),
          Runtime.getRuntime().availableProcessors());
      o.println(
          "| max batch | wall time, all requests | requests/min | mean latency | worst latency |"
              + " UNet calls | images vs one at a time |");
      o.println("|---|---|---|---|---|---|---|");
      List<GenerateResult> reference = null;
      double baseWall = 0;
      for (int limit : limits) {
        Run best = null;
        for (int k = 0; k < Math.max(1, repeats); k++) {
          Run run = run(sd, rs, limit);
          best = best == null || run.wallSeconds < best.wallSeconds ? run : best;
        }
        String same = "reference";
        if (reference == null) {
          reference = best.results;
          baseWall = best.wallSeconds;
        } else {
          same = "max diff " + maxLevelDiff(reference, best.results) + " level(s)";
        }
        o.printf(
            "| %d | %.2f s (%.2fx) | %.1f | %.2f s | %.2f s | %d | %s |%n",
            limit,
            best.wallSeconds,
            baseWall / best.wallSeconds,
            requests * 60 / best.wallSeconds,
            Arrays.stream(best.latencies).average().orElse(0),
            Arrays.stream(best.latencies).max().orElse(0),
            best.unetCalls,
            same);
        o.flush();
      }
    }
    return 0;
  }

  private String describe(Concept c) {
    return "concept '" + c.placeholder() + "' at beta 0.5..0.9 on half, no concept on the rest";
  }

  /** Different prompts, seeds and concept settings; every other request has no concept. */
  private List<GenerateRequest> requests(StableDiffusionPipeline sd, Concept c) {
    String[] prompts = {
      "a large {} on a sand background",
      "a small {} at the top",
      "a {} on the left",
      "a {} in the centre on a grey background"
    };
    String[] plain = {
      "a red circle",
      "a small blue square at the bottom",
      "a green triangle on the right",
      "a yellow heart on a white background"
    };
    List<GenerateRequest> out = new ArrayList<>();
    for (int i = 0; i < requests; i++) {
      GenerateRequest.Builder b;
      if (i % 2 == 0) {
        float beta = 0.5f + 0.1f * ((i / 2) % 5);
        b =
            GenerateRequest.builder(
                    prompts[(i / 2) % prompts.length].replace("{}", c.placeholder()))
                .optConditioner(
                    PerfusionModel.of(sd)
                        .conditioner(List.of(new ConceptUse(c, beta, null)), false));
      } else {
        b = GenerateRequest.builder(plain[(i / 2) % plain.length]);
      }
      out.add(b.optSteps(steps).optGuidanceScale(5).optSeed(1000 + i).build());
    }
    return out;
  }

  private record Run(
      double wallSeconds, double[] latencies, long unetCalls, List<GenerateResult> results) {}

  private static Run run(StableDiffusionPipeline sd, List<GenerateRequest> rs, int limit) {
    try (DenoisingBatch batch = new DenoisingBatch(sd, limit, Duration.ZERO)) {
      long t0 = System.nanoTime();
      double[] latencies = new double[rs.size()];
      List<CompletableFuture<GenerateResult>> fs = new ArrayList<>();
      for (int i = 0; i < rs.size(); i++) {
        int k = i;
        fs.add(
            batch
                .submit(rs.get(i))
                .whenComplete((r, e) -> latencies[k] = (System.nanoTime() - t0) / 1e9));
      }
      batch.drain();
      double wall = (System.nanoTime() - t0) / 1e9;
      return new Run(
          wall, latencies, batch.unetCalls(), fs.stream().map(CompletableFuture::join).toList());
    }
  }

  private static int maxLevelDiff(List<GenerateResult> a, List<GenerateResult> b) {
    int worst = 0;
    for (int i = 0; i < a.size(); i++) {
      for (int k = 0; k < a.get(i).images().size(); k++) {
        worst =
            Math.max(
                worst,
                ImageCodec.maxLevelDifference(a.get(i).images().get(k), b.get(i).images().get(k)));
      }
    }
    return worst;
  }
}
