package org.perfusionjobs.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.nn.FlopCounter;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.unet.UNet2DConditionConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion bench engine}: the engine figures of docs/benchmarks.md in one process — load
 * time, UNet step and 20-step generation on a real folder, an SD-v1.5-sized UNet (random weights
 * from its config) at a small latent size, and its achieved GFLOP/s against a large plain matMul.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Engine benchmarks (see docs/benchmarks.md).")
final class BenchCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      required = true,
      description = "diffusers folder for load / step / generation timings")
  Path model;

  @Option(
      names = "--sd15-unet-config",
      description = "UNet config.json of SD v1.5 for the full-size figures (skipped if absent)")
  Path sd15Config;

  @Option(
      names = "--latent",
      defaultValue = "32",
      description =
          "latent side for the SD-v1.5-sized UNet (default: ${DEFAULT-VALUE}, i.e. 256 px)")
  int latent;

  @Option(
      names = "--repeats",
      defaultValue = "5",
      description = "timed repetitions per figure (default: ${DEFAULT-VALUE})")
  int repeats;

  @Option(
      names = "--steps",
      defaultValue = "20",
      description = "steps of the whole generation (default: ${DEFAULT-VALUE})")
  int steps;

  @Override
  public Integer call() throws Exception {
    var out = spec.commandLine().getOut();
    out.printf(
        "threads: %s, cpus: %d%n",
        System.getenv().getOrDefault("OMP_NUM_THREADS", "libtorch default"),
        Runtime.getRuntime().availableProcessors());
    long t0 = System.nanoTime();
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu())) {
      out.printf("load %s: %.3f s%n", model, (System.nanoTime() - t0) / 1e9);
      int side = sd.defaultImageSize();
      Shape ls = sd.latentShape(2, side, side);
      out.printf(
          "UNet step (batch 2 = CFG, latent %s): %s%n",
          ls, stats(unetStep(sd.unet(), ls, sd.textEncoder().config().hiddenSize())));
      double[] gen = new double[repeats];
      GenerateRequest req = GenerateRequest.builder("a photo of a toy car").optSteps(steps).build();
      sd.generate(req);
      for (int i = 0; i < repeats; i++) {
        long s = System.nanoTime();
        sd.generate(req);
        gen[i] = (System.nanoTime() - s) / 1e6;
      }
      out.printf(
          "%d-step generation %dx%d (CFG, DDIM, decode included): %s%n",
          steps, side, side, stats(gen));
    }
    if (sd15Config != null) {
      sd15(out);
    }
    return 0;
  }

  private void sd15(PrintWriter out) throws Exception {
    UNet2DConditionConfig cfg = Configs.read(sd15Config, UNet2DConditionConfig.class);
    try (NDManager m = NDManager.newBaseManager()) {
      UNet2DConditionModel unet = new UNet2DConditionModel(cfg);
      unet.initRandom(m, DataType.FLOAT32, 1);
      Shape ls = new Shape(2, 4, latent, latent);
      double[] ms = unetStep(unet, ls, cfg.crossAttentionDim());
      long flops;
      try (NDScope s = new NDScope()) {
        s.suppressNotUsedWarning();
        Conditioning c = Conditioning.of(m.randomNormal(new Shape(2, 77, cfg.crossAttentionDim())));
        FlopCounter.start();
        unet.forward(m.randomNormal(ls), m.create(500L), c);
        flops = FlopCounter.stop();
      }
      double median = median(ms);
      double unetGflops = flops / (median / 1e3) / 1e9;
      out.printf(
          "SD-v1.5-sized UNet step (batch 2, latent %dx%d = %d px): %s%n",
          latent, latent, latent * 8, stats(ms));
      out.printf(
          "  %.1f GFLOP per forward (conv + linear + attention matmuls), %.1f GFLOP/s achieved%n",
          flops / 1e9, unetGflops);
      double mm = matmulGflops(m, 4096);
      out.printf("plain fp32 matMul 4096x4096x4096: %.1f GFLOP/s%n", mm);
      out.printf("UNet / matMul ratio: %.0f%%%n", 100 * unetGflops / mm);
      // A whole 20-step guided generation at this size is 20 UNet steps plus text encoder and VAE.
      out.printf(
          "SD-v1.5-sized %d-step denoising estimate: %.1f s (%d x median step)%n",
          steps, steps * median / 1e3, steps);
    }
  }

  private double[] unetStep(UNet2DConditionModel unet, Shape latentShape, int textDim) {
    try (NDManager m = NDManager.newBaseManager()) {
      Conditioning c = Conditioning.of(m.randomNormal(new Shape(latentShape.get(0), 77, textDim)));
      for (Attention a : unet.crossAttentions()) {
        c.keyValue(a);
      }
      NDArray x = m.randomNormal(latentShape);
      NDArray t = m.create(500L);
      double[] ms = new double[repeats];
      for (int i = -1; i < repeats; i++) {
        try (NDScope s = new NDScope()) {
          s.suppressNotUsedWarning();
          long st = System.nanoTime();
          unet.forward(x, t, c).getFloat(0, 0, 0, 0);
          if (i >= 0) {
            ms[i] = (System.nanoTime() - st) / 1e6;
          }
        }
      }
      return ms;
    }
  }

  private double matmulGflops(NDManager m, int n) {
    NDArray a = m.randomNormal(new Shape(n, n));
    NDArray b = m.randomNormal(new Shape(n, n));
    double best = Double.MAX_VALUE;
    for (int i = 0; i < 4; i++) {
      try (NDScope s = new NDScope()) {
        s.suppressNotUsedWarning();
        long st = System.nanoTime();
        a.matMul(b).getFloat(0, 0);
        double sec = (System.nanoTime() - st) / 1e9;
        if (i > 0) {
          best = Math.min(best, sec);
        }
      }
    }
    return 2.0 * n * n * (double) n / best / 1e9;
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  static String stats(double[] ms) {
    double[] s = ms.clone();
    Arrays.sort(s);
    return String.format(
        "median %.2f ms (min %.2f, max %.2f, n=%d)",
        s[s.length / 2], s[0], s[s.length - 1], s.length);
  }
}
