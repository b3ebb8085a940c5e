package org.perfusionjobs.cli;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.ConceptCompatibility;
import org.perfusionjobs.engine.perfusion.ConceptEdit;
import org.perfusionjobs.engine.perfusion.ConceptEdits;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.Covariance;
import org.perfusionjobs.engine.perfusion.CovarianceBuilder;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.perfusion.PerfusionProcessor;
import org.perfusionjobs.engine.perfusion.PerfusionTrainer;
import org.perfusionjobs.engine.perfusion.TrainingConfig;
import org.perfusionjobs.engine.perfusion.TrainingImages;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.unet.UNet2DConditionConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion bench-perfusion}: the Perfusion figures of docs/benchmarks.md — denoising time
 * per step with 0, 1 and 4 concepts in one run, training step time against a plain forward+backward
 * of the same UNet, a default-length training run, and concept load + apply time for the SD v1.5
 * layout.
 */
@Command(
    name = "bench-perfusion",
    mixinStandardHelpOptions = true,
    description = "Perfusion benchmarks (see docs/benchmarks.md).")
final class BenchPerfusionCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      required = true,
      description = "diffusers folder (tiny reference pipeline)")
  Path model;

  @Option(names = "--captions", required = true, description = "captions for its covariance")
  Path captions;

  @Option(
      names = "--sd15-unet-config",
      required = true,
      description = "SD v1.5 UNet config.json (layout only)")
  Path sd15;

  @Option(
      names = "--train-steps",
      defaultValue = "400",
      description = "steps of the full training run (default: ${DEFAULT-VALUE})")
  int trainSteps;

  @Option(
      names = "--repeats",
      defaultValue = "5",
      description = "repetitions (default: ${DEFAULT-VALUE})")
  int repeats;

  @Override
  public Integer call() throws Exception {
    var o = spec.commandLine().getOut();
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu())) {
      PerfusionModel.of(sd)
          .setCovariance(
              CovarianceBuilder.compute(
                  sd, CovarianceBuilder.readCaptions(captions), false, "bench", n -> {}));
      TrainingImages data = new TrainingImages(images(), null);
      PerfusionTrainer trainer = PerfusionModel.of(sd).trainer();
      Concept base =
          trainer.train(
              data,
              TrainingConfig.defaults("zwx", "car").withSteps(2).withBatch(1, 1),
              null,
              p -> {},
              s -> {},
              () -> false);
      List<ConceptUse> four = new ArrayList<>();
      Random rnd = new Random(1);
      for (String w : List.of("zwx", "sks", "qwe", "rty")) {
        float[] is = base.iStar().clone();
        for (int i = 0; i < is.length; i++) {
          is[i] += (float) rnd.nextGaussian() * 0.5f; // independent targets
        }
        four.add(
            ConceptUse.of(
                new Concept(
                    w,
                    base.superclass(),
                    base.baseModelId(),
                    base.cinvHash(),
                    0.7f,
                    0.15f,
                    is,
                    base.embedding(),
                    base.keyTargets(),
                    base.valueTargets(),
                    Map.of())));
      }
      String prompt = "a photo of zwx and sks with qwe and rty on the beach";
      double[][] perStep = new double[3][repeats];
      int steps = 20;
      for (int rep = -1; rep < repeats; rep++) {
        for (int k = 0; k < 3; k++) {
          List<ConceptUse> uses = k == 0 ? List.of() : k == 1 ? four.subList(0, 1) : four;
          GenerateResult r =
              sd.generate(
                  GenerateRequest.builder(prompt)
                      .optSteps(steps)
                      .optSeed(5)
                      .optConditioner(PerfusionModel.of(sd).conditioner(uses, false))
                      .build());
          if (rep >= 0) {
            perStep[k][rep] = (r.textEncoding().toNanos() + r.denoising().toNanos()) / 1e6 / steps;
          }
        }
      }
      o.printf(
          "tiny model, %d-step CFG generation, time per denoising step (text encoding and the"
              + " once-per-prompt edit amortised):%n",
          steps);
      o.printf(
          "  no concept %.3f ms, 1 concept %.3f ms (%+.1f%%), 4 concepts %.3f ms (%+.1f%%)%n",
          med(perStep[0]),
          med(perStep[1]),
          100 * (med(perStep[1]) / med(perStep[0]) - 1),
          med(perStep[2]),
          100 * (med(perStep[2]) / med(perStep[0]) - 1));

      // Training step vs a plain forward+backward of the same UNet at the same batch.
      int b = 4;
      double[] plain = new double[repeats];
      try (NDManager m = sd.manager().newSubManager()) {
        for (int rep = -1; rep < repeats; rep++) {
          try (NDScope s = new NDScope()) {
            s.suppressNotUsedWarning();
            NDArray text = sd.encodePrompts(Collections.nCopies(b, "a photo of a car"), m);
            text.setRequiresGradient(true);
            NDArray x = m.randomNormal(new Shape(b, 4, 16, 16));
            long t0 = System.nanoTime();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
              NDArray out =
                  sd.unet()
                      .forward(x, m.create(new long[] {100, 200, 300, 400}), Conditioning.of(text));
              gc.backward(out.square().mean());
            }
            text.getGradient().getFloat(0, 0, 0);
            if (rep >= 0) {
              plain[rep] = (System.nanoTime() - t0) / 1e6;
            }
          }
        }
      }
      List<Double> stepMs = new ArrayList<>();
      long[] last = {System.nanoTime()};
      trainer.train(
          data,
          TrainingConfig.defaults("zwx", "car").withSteps(repeats + 2).withBatch(b, 1),
          null,
          p -> {
            long now = System.nanoTime();
            stepMs.add((now - last[0]) / 1e6);
            last[0] = now;
          },
          s -> {},
          () -> false);
      double[] trainStep =
          stepMs.subList(2, stepMs.size()).stream().mapToDouble(Double::doubleValue).toArray();
      o.printf(
          "training, batch %d, one micro-batch per step: optimiser step %.1f ms vs plain UNet"
              + " forward+backward %.1f ms (x%.2f)%n",
          b, med(trainStep), med(plain), med(trainStep) / med(plain));
      long t0 = System.nanoTime();
      trainer.train(
          data,
          TrainingConfig.defaults("zwx", "car").withSteps(trainSteps),
          null,
          p -> {},
          s -> {},
          () -> false);
      o.printf(
          "default training run (%d steps, batch 4 x 4 accumulation): %.1f s%n",
          trainSteps, (System.nanoTime() - t0) / 1e9);
    }

    // Concept load + apply for the SD v1.5 layout: bytes -> validated concept -> processor ready.
    UNet2DConditionModel unet =
        new UNet2DConditionModel(Configs.read(sd15, UNet2DConditionConfig.class));
    Random rnd = new Random(3);
    double[][] spd = new double[768][768];
    for (int i = 0; i < 768; i++) {
      spd[i][i] = 1 + rnd.nextDouble();
    }
    Covariance cov = new Covariance(spd, Map.of());
    sd15StepOverhead(o, unet, cov, rnd);
    Map<String, float[]> k = new LinkedHashMap<>();
    Map<String, float[]> v = new LinkedHashMap<>();
    for (Attention a : unet.crossAttentions()) {
      k.put(a.path(), randomVector(rnd, a.toK.outFeatures));
      v.put(a.path(), randomVector(rnd, a.toV.outFeatures));
    }
    byte[] file =
        ConceptFile.toBytes(
            new Concept(
                "zwx",
                "teddy",
                "sd15",
                cov.hash(),
                0.7f,
                0.15f,
                randomVector(rnd, 768),
                randomVector(rnd, 768),
                k,
                v,
                Map.of()));
    double[] ms = new double[50];
    try (NDManager m = NDManager.newBaseManager()) {
      for (int i = -5; i < ms.length; i++) {
        try (NDScope s = new NDScope()) {
          s.suppressNotUsedWarning();
          long st = System.nanoTime();
          Concept c = ConceptFile.fromBytes(file);
          ConceptCompatibility.check(c, "sd15", cov, 768, unet.crossAttentions());
          new PerfusionProcessor(
              cov,
              List.of(ConceptEdits.toEdit(ConceptUse.of(c), m, EngineOptions.cpu())),
              m,
              DataType.FLOAT32);
          if (i >= 0) {
            ms[i] = (System.nanoTime() - st) / 1e6;
          }
        }
      }
    }
    o.printf(
        "SD v1.5 layout concept (%d bytes): load + validate + apply %.2f ms median (min %.2f, max"
            + " %.2f, n=%d)%n",
        file.length,
        med(ms),
        Arrays.stream(ms).min().orElse(0),
        Arrays.stream(ms).max().orElse(0),
        ms.length);
    return 0;
  }

  /**
   * SD-v1.5-sized UNet (random weights), batch 2 at a 32x32 latent: per-step time with 0, 1 and 4
   * concepts, each run = a fresh prompt's K/V projection (with the edit) plus 3 denoising steps,
   * interleaved so that machine noise hits all three alike.
   */
  private void sd15StepOverhead(
      PrintWriter o, UNet2DConditionModel unet, Covariance cov, Random rnd) {
    int steps = 3;
    try (NDManager m = NDManager.newBaseManager()) {
      unet.initRandom(m, DataType.FLOAT32, 1);
      List<List<ConceptEdit>> sets = new ArrayList<>();
      List<ConceptEdit> all = new ArrayList<>();
      for (int c = 0; c < 4; c++) {
        Map<String, NDArray> k = new LinkedHashMap<>();
        Map<String, NDArray> v = new LinkedHashMap<>();
        for (Attention a : unet.crossAttentions()) {
          k.put(a.path(), m.randomNormal(new Shape(a.toK.outFeatures)));
          v.put(a.path(), m.randomNormal(new Shape(a.toV.outFeatures)));
        }
        double[] is = new double[768];
        for (int i = 0; i < 768; i++) {
          is[i] = rnd.nextGaussian();
        }
        all.add(new ConceptEdit(is, k, v, 0.7f, 0.15f));
      }
      sets.add(List.of());
      sets.add(all.subList(0, 1));
      sets.add(all);
      NDArray text = m.randomNormal(new Shape(2, 77, 768));
      NDArray x = m.randomNormal(new Shape(2, 4, 32, 32));
      double[][] ms = new double[3][repeats];
      for (int rep = -1; rep < repeats; rep++) {
        for (int k = 0; k < 3; k++) {
          try (NDScope s = new NDScope()) {
            s.suppressNotUsedWarning();
            long t0 = System.nanoTime();
            Conditioning c =
                sets.get(k).isEmpty()
                    ? Conditioning.of(text)
                    : new Conditioning(
                        text, text, new PerfusionProcessor(cov, sets.get(k), m, DataType.FLOAT32));
            for (int i = 0; i < steps; i++) {
              unet.forward(x, m.create(500L - i), c).getFloat(0, 0, 0, 0);
            }
            if (rep >= 0) {
              ms[k][rep] = (System.nanoTime() - t0) / 1e6 / steps;
            }
          }
        }
      }
      o.printf(
          "SD-v1.5-sized UNet, batch 2, 32x32 latent, per step incl. the once-per-prompt edit over"
              + " %d steps:%n",
          steps);
      o.printf(
          "  no concept %.1f ms, 1 concept %.1f ms (%+.2f%%), 4 concepts %.1f ms (%+.2f%%)%n",
          med(ms[0]),
          med(ms[1]),
          100 * (med(ms[1]) / med(ms[0]) - 1),
          med(ms[2]),
          100 * (med(ms[2]) / med(ms[0]) - 1));
    }
  }

  private static float[] randomVector(Random r, int n) {
    float[] f = new float[n];
    for (int i = 0; i < n; i++) {
      f[i] = (float) r.nextGaussian();
    }
    return f;
  }

  private static List<BufferedImage> images() {
    List<BufferedImage> out = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
      Graphics2D g = img.createGraphics();
      g.setColor(Color.CYAN);
      g.fillRect(0, 0, 32, 32);
      g.setColor(Color.RED);
      g.fillRect(4 + 3 * i, 8, 14, 12);
      g.dispose();
      out.add(img);
    }
    return out;
  }

  private static double med(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
