package org.perfusionjobs.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.AttentionSlicing;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.nn.FlopCounter;
import org.perfusionjobs.engine.unet.UNet2DConditionConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion bench-gemm}: the engine's fp32 GEMM rate (libtorch's matMul, in process) for
 * square and UNet-typical shapes, side by side with the machine's OpenBLAS on the same shapes (a
 * small C program, {@code scripts/bench/openblas_sgemm.c}, compiled against Debian's libopenblas
 * and run as a child, interleaved shape by shape so both see the same machine load), then the
 * achieved GFLOP/s of an SD-v1.5-sized UNet step in the same process and its ratio to the best GEMM
 * rate of the run (issue 22, item 7; docs/benchmarks.md).
 */
@Command(
    name = "bench-gemm",
    mixinStandardHelpOptions = true,
    description =
        "Engine GEMM rate against OpenBLAS, and the SD-v1.5-sized UNet step's GFLOP/s"
            + " (docs/benchmarks.md).")
final class BenchGemmCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  /**
   * M,N,K of the UNet's large GEMMs at 512 px, batch 2 (linear layers; attention per head; 3x3
   * convs as im2col).
   */
  static final String DEFAULT_SHAPES =
      "2048,2048,2048,4096,4096,4096"
          + ",8192,320,320,8192,2560,320,8192,320,1280" // 64x64 tokens: projections, GEGLU in,
          // feed-forward out
          + ",4096,4096,40,4096,40,4096" // one head's QK' and PV at 64x64
          + ",8192,320,2880,2048,640,5760,512,1280,11520"; // 3x3 convs 320/640/1280 channels at

  // 64/32/16 px latent (im2col)

  @Option(
      names = "--shapes",
      defaultValue = DEFAULT_SHAPES,
      split = ",",
      description =
          "M,N,K triples, flattened (default: square 2048 and 4096, then the UNet's typical shapes"
              + " at 512 px)")
  List<Integer> shapes;

  @Option(
      names = "--repeats",
      defaultValue = "4",
      description = "timed GEMMs per shape and side, best taken (default: ${DEFAULT-VALUE})")
  int repeats;

  @Option(
      names = "--rounds",
      defaultValue = "2",
      description = "rounds over all shapes, both sides interleaved (default: ${DEFAULT-VALUE})")
  int rounds;

  @Option(
      names = "--sd15-unet-config",
      defaultValue = "shared/testdata/sd15-layout/unet/config.json",
      description =
          "UNet config of SD v1.5 (random weights) for the UNet step; 'none' skips it (default:"
              + " ${DEFAULT-VALUE})")
  String unetConfig;

  @Option(
      names = "--latent",
      defaultValue = "64",
      description = "latent side of the UNet step (default: ${DEFAULT-VALUE} = 512 px)")
  int latent;

  @Option(
      names = "--unet-steps",
      defaultValue = "2",
      description = "timed UNet steps after one warm-up (default: ${DEFAULT-VALUE})")
  int unetSteps;

  @Option(
      names = "--attention-slicing",
      defaultValue = "auto",
      split = ",",
      description =
          "the UNet step's attention, one or more, timed in turn step by step: auto (libtorch's"
              + " fused kernel), none (matrix products, unsliced), or matrix products with a"
              + " budget of scores per chunk such as 64MiB (default: ${DEFAULT-VALUE})")
  List<String> attentionSlicing;

  @Option(
      names = "--openblas",
      defaultValue = "auto",
      description =
          "OpenBLAS reference: auto (compile scripts/bench/openblas_sgemm.c with gcc -lopenblas if"
              + " possible), none, or the path of a built binary (default: ${DEFAULT-VALUE})")
  String openblas;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (shapes.size() % 3 != 0) {
      throw new IllegalArgumentException(
          "--shapes needs M,N,K triples; got " + shapes.size() + " numbers");
    }
    if (repeats < 1 || rounds < 1 || unetSteps < 1) {
      throw new IllegalArgumentException("--repeats, --rounds and --unet-steps must be at least 1");
    }
    try (NDManager m = NDManager.newBaseManager()) {
      m.create(1f).getFloat(); // loads libtorch
      out.printf(
          Locale.ROOT,
          "libtorch threads: intra-op %d, inter-op %d; cpus %d; load average %s%n",
          JniUtils.getNumThreads(),
          JniUtils.getNumInteropThreads(),
          Runtime.getRuntime().availableProcessors(),
          loadAverage());
      out.printf("settings: %s%n", settings());
      Path obs = openblasBinary(out);
      String obsThreads =
          System.getenv()
              .getOrDefault("OPENBLAS_NUM_THREADS", Integer.toString(JniUtils.getNumThreads()));
      Map<String, double[]> best = new LinkedHashMap<>(); // shape -> {engine, openblas}
      for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < shapes.size(); i += 3) {
          int mm = shapes.get(i);
          int nn = shapes.get(i + 1);
          int kk = shapes.get(i + 2);
          String key = mm + "x" + nn + "x" + kk;
          double[] b = best.computeIfAbsent(key, k -> new double[2]);
          if (obs != null) {
            b[1] = Math.max(b[1], openblasGflops(obs, obsThreads, mm, nn, kk));
          }
          b[0] = Math.max(b[0], engineGflops(m, mm, nn, kk));
        }
      }
      out.printf(
          "%-18s %14s %14s %8s%n", "GEMM M x N x K", "engine GF/s", "OpenBLAS GF/s", "ratio");
      double bestEngine = 0;
      double bestObs = 0;
      for (Map.Entry<String, double[]> e : best.entrySet()) {
        double[] b = e.getValue();
        bestEngine = Math.max(bestEngine, b[0]);
        bestObs = Math.max(bestObs, b[1]);
        out.printf(
            Locale.ROOT,
            "%-18s %14.1f %14s %8s%n",
            e.getKey(),
            b[0],
            obs == null ? "-" : String.format(Locale.ROOT, "%.1f", b[1]),
            obs == null ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * b[0] / b[1]));
      }
      out.printf(
          Locale.ROOT,
          "best GEMM rate of the run: engine %.1f GFLOP/s, OpenBLAS %s%n",
          bestEngine,
          obs == null ? "not measured" : String.format(Locale.ROOT, "%.1f GFLOP/s", bestObs));
      out.flush();
      if (!unetConfig.equals("none")) {
        double machine = Math.max(bestEngine, bestObs);
        unet(out, m, machine, bestEngine);
      }
      out.printf("load average at the end: %s%n", loadAverage());
    }
    return 0;
  }

  private void unet(PrintWriter out, NDManager m, double machineBest, double engineBest)
      throws IOException {
    UNet2DConditionConfig cfg = Configs.read(Path.of(unetConfig), UNet2DConditionConfig.class);
    UNet2DConditionModel unet = new UNet2DConditionModel(cfg);
    try (NDManager wm = m.newSubManager()) {
      unet.initRandom(wm, DataType.FLOAT32, 1);
      List<AttentionSlicing> slicings =
          attentionSlicing.stream().map(AttentionSlicing::parse).toList();
      Conditioning c = Conditioning.of(wm.randomNormal(new Shape(2, 77, cfg.crossAttentionDim())));
      for (Attention a : unet.crossAttentions()) {
        c.keyValue(a);
      }
      NDArray x = wm.randomNormal(new Shape(2, cfg.inChannels(), latent, latent));
      NDArray t = wm.create(500L);
      double[][] secs = new double[slicings.size()][unetSteps];
      long flops = 0;
      for (int i = -1; i < unetSteps; i++) { // the settings interleaved, so load drifts hit all
        for (int k = 0; k < slicings.size(); k++) {
          slicings.get(k).applyTo(unet);
          try (NDScope s = new NDScope()) {
            s.suppressNotUsedWarning();
            if (i < 0 && k == 0) {
              FlopCounter.start();
            }
            long st = System.nanoTime();
            unet.forward(x, t, c).getFloat(0, 0, 0, 0);
            if (i < 0 && k == 0) {
              flops = FlopCounter.stop();
            } else if (i >= 0) {
              secs[k][i] = (System.nanoTime() - st) / 1e9;
            }
          }
        }
      }
      for (int k = 0; k < slicings.size(); k++) {
        double med = BenchCommand.median(secs[k]);
        double achieved = flops / med / 1e9;
        StringBuilder each = new StringBuilder();
        for (double s : secs[k]) {
          each.append(String.format(Locale.ROOT, " %.2f", s));
        }
        out.printf(
            Locale.ROOT,
            "SD-v1.5-sized UNet step, batch 2, latent %dx%d (%d px), attention slicing %s: %.1f"
                + " GFLOP, median %.2f s (steps:%s), %.1f GFLOP/s%n",
            latent,
            latent,
            latent * 8,
            attentionSlicing.get(k),
            flops / 1e9,
            med,
            each,
            achieved);
        out.printf(
            Locale.ROOT,
            "UNet step / engine's best GEMM: %.0f%%; UNet step / machine's best GEMM (max of both"
                + " sides): %.0f%% (goal: >= 60%%)%n",
            100 * achieved / engineBest,
            100 * achieved / machineBest);
      }
    }
  }

  private double engineGflops(NDManager m, int mm, int nn, int kk) {
    try (NDManager g = m.newSubManager()) {
      NDArray a = g.randomNormal(new Shape(mm, kk));
      NDArray b = g.randomNormal(new Shape(kk, nn));
      double best = Double.MAX_VALUE;
      for (int i = -1; i < repeats; i++) {
        try (NDScope s = new NDScope()) {
          s.suppressNotUsedWarning();
          long st = System.nanoTime();
          a.matMul(b).getFloat(0, 0);
          double sec = (System.nanoTime() - st) / 1e9;
          if (i >= 0) {
            best = Math.min(best, sec);
          }
        }
      }
      return 2.0 * mm * nn * (double) kk / best / 1e9;
    }
  }

  private double openblasGflops(Path bin, String threads, int mm, int nn, int kk)
      throws IOException, InterruptedException {
    ProcessBuilder pb =
        new ProcessBuilder(bin.toString(), Integer.toString(repeats), mm + "," + nn + "," + kk)
            .redirectErrorStream(true);
    pb.environment().put("OPENBLAS_NUM_THREADS", threads);
    Process p = pb.start();
    double rate = 0;
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        String[] f = line.split(" ");
        if (f.length == 2 && f[0].equals(mm + "," + nn + "," + kk)) {
          rate = Double.parseDouble(f[1]);
        }
      }
    }
    if (p.waitFor() != 0) {
      throw new IOException(bin + " exited with " + p.exitValue());
    }
    return rate;
  }

  private Path openblasBinary(PrintWriter out) throws IOException, InterruptedException {
    if (openblas.equals("none")) {
      return null;
    }
    if (!openblas.equals("auto")) {
      return Path.of(openblas);
    }
    Path root = Path.of(System.getProperty("perfusion.root", "."));
    Path src = root.resolve("scripts/bench/openblas_sgemm.c");
    Path bin = Files.createTempDirectory("perfusion-gemm").resolve("openblas_sgemm");
    bin.getParent().toFile().deleteOnExit();
    bin.toFile().deleteOnExit();
    Process p =
        new ProcessBuilder("gcc", "-O2", "-o", bin.toString(), src.toString(), "-lopenblas")
            .redirectErrorStream(true)
            .start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      out.printf(
          "OpenBLAS reference skipped (gcc + libopenblas-dev needed: apt-get install -y gcc"
              + " libopenblas-dev): %s%n",
          log.strip());
      return null;
    }
    Process q =
        new ProcessBuilder(bin.toString(), "0", "64,64,64").redirectErrorStream(true).start();
    for (String l :
        new String(q.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
      if (l.startsWith("config ") || l.startsWith("corename ")) {
        out.printf("OpenBLAS %s%n", l);
      }
    }
    q.waitFor();
    return bin;
  }

  private static String settings() {
    List<String> s = new ArrayList<>();
    for (String k :
        List.of(
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "MKL_ENABLE_INSTRUCTIONS",
            "MKL_CBWR",
            "ONEDNN_MAX_CPU_ISA",
            "DNNL_MAX_CPU_ISA",
            "ONEDNN_DEFAULT_FPMATH_MODE",
            "OMP_WAIT_POLICY",
            "KMP_BLOCKTIME",
            "LD_PRELOAD",
            "MALLOC_CONF")) {
      String v = System.getenv(k);
      if (v != null) {
        s.add(k + "=" + v);
      }
    }
    for (String k : List.of("ai.djl.pytorch.num_threads", "ai.djl.pytorch.num_interop_threads")) {
      String v = System.getProperty(k);
      if (v != null) {
        s.add("-D" + k + "=" + v);
      }
    }
    return s.isEmpty() ? "(defaults)" : String.join(" ", s);
  }

  static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException e) {
      return "unknown";
    }
  }
}
