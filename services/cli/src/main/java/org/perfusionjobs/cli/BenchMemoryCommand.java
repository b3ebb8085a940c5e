package org.perfusionjobs.cli;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.AttentionSlicing;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTextConfig;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.scheduler.SamplerRun;
import org.perfusionjobs.engine.scheduler.Samplers;
import org.perfusionjobs.engine.scheduler.SchedulerConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionModel;
import org.perfusionjobs.engine.vae.AutoencoderKL;
import org.perfusionjobs.engine.vae.AutoencoderKLConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion bench-memory}: peak resident memory (VmHWM of /proc/self/status) and step time
 * of the SD-v1.5-sized models with random weights, per image size, each figure from a fresh child
 * JVM so that peaks do not mix. Phases: {@code unet} (warm-up + timed UNet steps at batch 2 =
 * classifier-free guidance, 77 text tokens, as issue 22's PyTorch anchor), {@code decode} and
 * {@code encode} (the VAE alone, batch 1), {@code train} (a Perfusion-shaped training step: frozen
 * UNet at batch 1, MSE on the noise prediction, gradients into the text-side inputs of every
 * cross-attention, which is where Perfusion's trainable K/V edits enter), {@code generate} (text
 * encoder, sN DDIM steps with guidance at batch 2 and the decode, timed as a whole). {@code before}
 * rows run the engine as it was (no early release, unsliced attention) for the side-by-side ratio;
 * a child whose resident memory passes {@code --cap-gib} is killed and reported as such.
 */
@Command(
    name = "bench-memory",
    mixinStandardHelpOptions = true,
    description =
        "Peak resident memory and step time per image size, one child JVM per figure"
            + " (docs/benchmarks.md).")
final class BenchMemoryCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--sd15",
      defaultValue = "shared/testdata/sd15-layout",
      description =
          "folder with the SD v1.5 unet/ and vae/ config.json (default: ${DEFAULT-VALUE})")
  Path sd15;

  @Option(
      names = "--runs",
      split = ",",
      defaultValue =
          "before:unet:256,unet:256,unet:384,unet:512,unet:512:b4:s1,decode:512:s1,encode:512:s1,train:512:s1",
      description =
          "figures to measure, each phase:size[:bN][:wN][:sN] (phase unet, decode, encode, train or"
              + " generate; bN batch, wN warm-up steps (default 1), sN timed steps; before: prefix"
              + " = the former engine) (default: ${DEFAULT-VALUE})")
  List<String> runs;

  @Option(
      names = "--scheduler",
      defaultValue = "shared/testdata/sd-tiny-ref/scheduler/scheduler_config.json",
      description =
          "scheduler config of the generate phase (SD v1.5's DDIM values) (default:"
              + " ${DEFAULT-VALUE})")
  Path schedulerConfig;

  @Option(
      names = "--steps",
      defaultValue = "2",
      description =
          "timed steps per figure after one warm-up, unless the figure says sN (default:"
              + " ${DEFAULT-VALUE})")
  int steps;

  @Option(
      names = "--attention",
      defaultValue = "auto",
      description =
          "attention of the new engine: auto (libtorch's fused kernel), none, or matrix"
              + " products sliced at a size such as 64MiB (default: ${DEFAULT-VALUE})")
  String attention;

  @Option(
      names = "--cap-gib",
      defaultValue = "11",
      description =
          "kill a child whose resident memory passes this (default: ${DEFAULT-VALUE} GiB)")
  double capGib;

  @Option(
      names = "--xmx",
      defaultValue = "1g",
      description = "Java heap of each child (the tensors are native) (default: ${DEFAULT-VALUE})")
  String xmx;

  // child mode
  @Option(names = "--child", hidden = true)
  String child;

  @Override
  public Integer call() throws Exception {
    if (child != null) {
      return runChild(child);
    }
    PrintWriter out = spec.commandLine().getOut();
    out.printf(
        "threads: %s, cpus: %d, java %s, child heap %s, %d timed steps after 1 warm-up%n",
        System.getenv().getOrDefault("OMP_NUM_THREADS", "libtorch default"),
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"),
        xmx,
        steps);
    out.printf(
        "%-22s %19s %12s %12s  %s%n",
        "figure", "peak GiB (GB)", "weights GiB", "median s", "steps (s)");
    out.flush();
    for (String r : runs) {
      out.println(runParent(r.strip()));
      out.flush();
    }
    return 0;
  }

  private String runParent(String run) throws IOException, InterruptedException {
    boolean before = run.startsWith("before:");
    String spec = before ? run.substring("before:".length()) : run;
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("-Xmx" + xmx);
    cmd.add("-Xss4m");
    cmd.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
    cmd.add("-Dperfusion.engine.releaseIntermediates=" + !before);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(PerfusionCli.class.getName());
    cmd.addAll(
        List.of(
            "bench-memory",
            "--child",
            spec,
            "--sd15",
            sd15.toString(),
            "--steps",
            Integer.toString(steps),
            "--attention",
            before ? "none" : attention,
            "--scheduler",
            schedulerConfig.toString()));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Process p = pb.start();
    long capKib = (long) (capGib * 1024 * 1024);
    long[] maxRss = {0};
    boolean[] killed = {false};
    Thread watch =
        new Thread(
            () -> {
              Path status = Path.of("/proc", Long.toString(p.pid()), "status");
              while (p.isAlive()) {
                long rss = statusKib(status, "VmRSS:");
                maxRss[0] = Math.max(maxRss[0], rss);
                if (rss > capKib) {
                  killed[0] = true;
                  p.destroyForcibly();
                  return;
                }
                try {
                  Thread.sleep(200);
                } catch (InterruptedException e) {
                  return;
                }
              }
            });
    watch.setDaemon(true);
    watch.start();
    String result = null;
    StringBuilder log = new StringBuilder();
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.startsWith("RESULT ")) {
          result = line.substring("RESULT ".length());
        } else {
          log.append(line).append('\n');
        }
      }
    }
    p.waitFor(10, TimeUnit.MINUTES);
    watch.join(1000);
    String label = (before ? "before " : "") + spec;
    if (killed[0]) {
      return String.format(
          Locale.ROOT,
          "%-22s %12s  killed: resident memory passed the %.1f GiB cap",
          label,
          "> " + capGib,
          capGib);
    }
    if (result == null) {
      return String.format(Locale.ROOT, "%-22s failed (exit %d):%n%s", label, p.exitValue(), log);
    }
    return String.format(Locale.ROOT, "%-22s %s", label, result);
  }

  static long statusKib(Path status, String key) {
    try {
      for (String l : Files.readAllLines(status)) {
        if (l.startsWith(key)) {
          return Long.parseLong(l.substring(key.length()).replace("kB", "").strip());
        }
      }
    } catch (IOException | RuntimeException e) {
      // the process ended
    }
    return 0;
  }

  private static double gib(long kib) {
    return kib / 1024.0 / 1024.0;
  }

  private Integer runChild(String run) throws Exception {
    String[] parts = run.split(":");
    String phase = parts[0];
    int size = Integer.parseInt(parts[1]);
    int batch = phase.equals("unet") ? 2 : 1;
    int timed = steps;
    int warmup = 1;
    for (int i = 2; i < parts.length; i++) {
      if (parts[i].startsWith("w")) {
        warmup = Integer.parseInt(parts[i].substring(1));
      } else if (parts[i].startsWith("b")) {
        batch = Integer.parseInt(parts[i].substring(1));
      } else if (parts[i].startsWith("s")) {
        timed = Integer.parseInt(parts[i].substring(1));
      } else {
        throw new IllegalArgumentException(
            "'"
                + parts[i]
                + "' in '"
                + run
                + "' is neither bN (batch) nor sN (timed steps) nor wN (warm-up steps)");
      }
    }
    AttentionSlicing slicing = AttentionSlicing.parse(attention);
    Path self = Path.of("/proc/self/status");
    double[] secs = new double[timed];
    long weightsKib;
    try (NDManager m = NDManager.newBaseManager()) {
      switch (phase) {
        case "unet", "train" -> {
          UNet2DConditionConfig cfg =
              Configs.read(sd15.resolve("unet/config.json"), UNet2DConditionConfig.class);
          UNet2DConditionModel unet = new UNet2DConditionModel(cfg);
          unet.initRandom(m, DataType.FLOAT32, 1);
          slicing.applyTo(unet);
          weightsKib = statusKib(self, "VmRSS:");
          int latent = size / 8;
          Shape ls = new Shape(batch, cfg.inChannels(), latent, latent);
          if (phase.equals("unet")) {
            Conditioning c =
                Conditioning.of(m.randomNormal(new Shape(batch, 77, cfg.crossAttentionDim())));
            for (Attention a : unet.crossAttentions()) {
              c.keyValue(a);
            }
            NDArray x = m.randomNormal(ls);
            NDArray t = m.create(500L);
            for (int i = -warmup; i < timed; i++) {
              try (NDScope s = new NDScope()) {
                s.suppressNotUsedWarning();
                long st = System.nanoTime();
                unet.forward(x, t, c).getFloat(0, 0, 0, 0);
                if (i >= 0) {
                  secs[i] = (System.nanoTime() - st) / 1e9;
                }
              }
            }
          } else {
            NDArray x = m.randomNormal(ls);
            NDArray noise = m.randomNormal(ls);
            NDArray t = m.create(new long[] {500L}).repeat(0, batch);
            NDArray text = m.randomNormal(new Shape(batch, 77, cfg.crossAttentionDim()));
            text.setRequiresGradient(true);
            for (int i = -warmup; i < timed; i++) {
              try (NDScope s = new NDScope();
                  GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                s.suppressNotUsedWarning();
                long st = System.nanoTime();
                // K/V made inside the step so that the gradient reaches the text side.
                NDArray eps = unet.forward(x, t, Conditioning.of(text));
                gc.backward(eps.sub(noise).square().mean());
                text.getGradient().getFloat(0, 0, 0);
                if (i >= 0) {
                  secs[i] = (System.nanoTime() - st) / 1e9;
                }
              }
            }
          }
        }
        case "decode", "encode" -> {
          AutoencoderKLConfig cfg =
              Configs.read(sd15.resolve("vae/config.json"), AutoencoderKLConfig.class);
          AutoencoderKL vae = new AutoencoderKL(cfg);
          vae.initRandom(m, DataType.FLOAT32, 2);
          slicing.applyTo(vae);
          weightsKib = statusKib(self, "VmRSS:");
          int f = cfg.spatialFactor();
          NDArray in =
              phase.equals("decode")
                  ? m.randomNormal(new Shape(batch, cfg.latentChannels(), size / f, size / f))
                  : m.randomUniform(-1f, 1f, new Shape(batch, cfg.inChannels(), size, size));
          for (int i = -warmup; i < timed; i++) {
            try (NDScope s = new NDScope()) {
              s.suppressNotUsedWarning();
              long st = System.nanoTime();
              if (phase.equals("decode")) {
                vae.decode(in).getFloat(0, 0, 0, 0);
              } else {
                vae.encode(in).mean().getFloat(0, 0, 0, 0);
              }
              if (i >= 0) {
                secs[i] = (System.nanoTime() - st) / 1e9;
              }
            }
          }
        }
        case "generate" -> {
          // The pipeline's loop on SD-v1.5-sized random weights: text encoder on 2 prompts' ids,
          // DDIM steps with guidance 7.5 at batch 2, decode; each step in its own NDScope.
          UNet2DConditionConfig ucfg =
              Configs.read(sd15.resolve("unet/config.json"), UNet2DConditionConfig.class);
          AutoencoderKLConfig vcfg =
              Configs.read(sd15.resolve("vae/config.json"), AutoencoderKLConfig.class);
          ClipTextModel text =
              new ClipTextModel(
                  Configs.read(sd15.resolve("text_encoder/config.json"), ClipTextConfig.class));
          UNet2DConditionModel unet = new UNet2DConditionModel(ucfg);
          AutoencoderKL vae = new AutoencoderKL(vcfg);
          text.initRandom(m, DataType.FLOAT32, 3);
          unet.initRandom(m, DataType.FLOAT32, 1);
          vae.initRandom(m, DataType.FLOAT32, 2);
          slicing.applyTo(unet);
          slicing.applyTo(vae);
          weightsKib = statusKib(self, "VmRSS:");
          SchedulerConfig sc = Configs.read(schedulerConfig, SchedulerConfig.class);
          int latent = size / vcfg.spatialFactor();
          secs = new double[1];
          long st = System.nanoTime();
          try (NDManager rm = m.newSubManager();
              NDScope scope = new NDScope();
              SamplerRun sampler = Samplers.create("ddim", sc, timed, 0f)) {
            scope.suppressNotUsedWarning();
            NDArray ids = rm.randomInteger(0, 49407, new Shape(2, 77), DataType.INT64);
            Conditioning cond = Conditioning.of(text.forward(ids));
            for (Attention a : unet.crossAttentions()) {
              cond.keyValue(a);
            }
            NDArray latents =
                rm.randomNormal(new Shape(1, ucfg.inChannels(), latent, latent))
                    .mul(sampler.initNoiseSigma());
            for (int i = 0; i < sampler.steps(); i++) {
              try (NDScope step = new NDScope()) {
                step.suppressNotUsedWarning();
                NDArray in =
                    sampler.scaleModelInput(NDArrays.concat(new NDList(latents, latents)), i);
                NDList eps =
                    unet.forward(in, rm.create(sampler.modelTimesteps()[i]), cond).split(2);
                NDArray guided = eps.get(0).add(eps.get(1).sub(eps.get(0)).mul(7.5f));
                NDArray next = sampler.step(guided, i, latents, null);
                NDScope.unregister(next);
                latents = next;
              }
            }
            try (NDScope d = new NDScope()) {
              d.suppressNotUsedWarning();
              vae.decode(latents.div(vcfg.scalingFactor())).getFloat(0, 0, 0, 0);
            }
          }
          secs[0] = (System.nanoTime() - st) / 1e9;
        }
        default ->
            throw new IllegalArgumentException(
                "phase '" + phase + "' is not unet, decode, encode, train or generate");
      }
    }
    long peak = statusKib(self, "VmHWM:");
    StringBuilder each = new StringBuilder();
    for (double s : secs) {
      each.append(String.format(Locale.ROOT, "%.2f ", s));
    }
    System.out.printf(
        Locale.ROOT,
        "RESULT %6.2f (%5.2f GB) %12.2f %12.2f  %s%n",
        gib(peak),
        peak * 1024 / 1e9,
        gib(weightsKib),
        BenchCommand.median(secs),
        each.toString().strip());
    return 0;
  }
}
