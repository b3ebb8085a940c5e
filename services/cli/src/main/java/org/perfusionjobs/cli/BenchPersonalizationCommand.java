package org.perfusionjobs.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.evaluator.Evaluator;
import org.perfusionjobs.evaluator.concepts.ConceptSuite;
import org.perfusionjobs.evaluator.concepts.SuiteConcept;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion bench-personalization}: the paper's comparison on this world. For every suite
 * concept the model's evaluator can read and every method: training images from the concept's spec,
 * training with the method (same images, step budget and seed), evaluation on the concept prompt
 * set (Perfusion at several betas from one file, LoRA at several scales), and a report: {@code
 * docs/personalization.md}, a fidelity-vs-alignment plot and a sample grid per method.
 *
 * <p>Each step runs the CLI's own command ({@code concept-images}, {@code train --method}, {@code
 * eval --json}) in a child JVM, so the benchmark measures exactly what users run, and one step's
 * memory cannot leak into the next.
 */
@Command(
    name = "bench-personalization",
    mixinStandardHelpOptions = true,
    description =
        "Perfusion against textual inversion, custom diffusion, LoRA and DreamBooth on the concept"
            + " suite; writes docs/personalization.md.")
final class BenchPersonalizationCommand implements Callable<Integer> {
  static final List<String> METHODS =
      List.of("perfusion", "textual-inversion", "custom-diffusion", "lora", "dreambooth");

  @Spec CommandSpec spec;

  @Option(names = "--model", description = "base model folder (default: the bundled world model)")
  Path model;

  @Option(
      names = "--concepts",
      split = ",",
      description =
          "suite words to run (default: every suite concept whose pattern the model's evaluator"
              + " reads)")
  List<String> words = new ArrayList<>();

  @Option(
      names = "--methods",
      split = ",",
      defaultValue = "perfusion,textual-inversion,custom-diffusion,lora,dreambooth",
      description = "methods (default: ${DEFAULT-VALUE})")
  List<String> methods;

  @Option(
      names = "--prompts",
      defaultValue = "60",
      description = "concept prompts per concept and setting (default: ${DEFAULT-VALUE})")
  int prompts;

  @Option(
      names = "--train-steps",
      defaultValue = "400",
      description = "optimiser steps of every method (default: ${DEFAULT-VALUE})")
  int trainSteps;

  @Option(
      names = "--betas",
      split = ",",
      defaultValue = "0.5,0.6,0.7,0.8,0.9",
      description = "Perfusion's inference betas (default: ${DEFAULT-VALUE})")
  List<Float> betas;

  @Option(
      names = "--scales",
      split = ",",
      defaultValue = "0.25,0.5,0.75,1",
      description = "LoRA's scales (default: ${DEFAULT-VALUE})")
  List<Float> scales;

  @Option(
      names = "--quick",
      description =
          "CI-sized: 2 concepts at most, 12 prompts, 40 training steps, 3 betas and 2 scales")
  boolean quick;

  @Option(
      names = "--work",
      defaultValue = "out/bench-personalization",
      description = "folder for images, concept files and eval reports (default: ${DEFAULT-VALUE})")
  Path work;

  @Option(
      names = "--report",
      description =
          "report to write (default: docs/personalization.md; with --quick:"
              + " <work>/personalization.md)")
  Path report;

  /** One evaluated setting of one method on one concept. */
  record Point(
      String concept,
      String method,
      String setting,
      double fidelity,
      double exactCount,
      double alignment,
      Double composition,
      int images) {}

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    Path root = Path.of(System.getProperty("perfusion.root", "."));
    Path modelDir = model != null ? model : root.resolve("models/world-v1");
    if (quick) {
      prompts = Math.min(prompts, 12);
      trainSteps = Math.min(trainSteps, 40);
      betas = betas.size() > 3 ? List.of(0.5f, 0.7f, 0.9f) : betas;
      scales = scales.size() > 2 ? List.of(0.5f, 1f) : scales;
    }
    for (String m : methods) {
      if (!METHODS.contains(m)) {
        throw new picocli.CommandLine.ParameterException(
            spec.commandLine(),
            "--methods: unknown method '" + m + "'; use " + String.join(", ", METHODS));
      }
    }
    List<SuiteConcept> suite = chooseConcepts(modelDir, err);
    Path reportFile =
        report != null
            ? report
            : quick ? work.resolve("personalization.md") : root.resolve("docs/personalization.md");
    Path imgDir = reportFile.toAbsolutePath().getParent().resolve("img");
    Files.createDirectories(imgDir);
    List<Point> points = new ArrayList<>();
    Map<String, double[]> costs = new LinkedHashMap<>(); // method -> {seconds sum, bytes sum, runs}
    for (SuiteConcept c : suite) {
      Path dir = work.resolve(c.word());
      Path images = dir.resolve("images");
      cli(
          err,
          "concept-images",
          "--spec",
          c.spec().text(),
          "--out",
          images.toString(),
          "--count",
          "5",
          "--seed",
          "0");
      for (String m : methods) {
        Path file = dir.resolve(m + ".safetensors");
        long t0 = System.nanoTime();
        cli(
            err,
            "train",
            "--model",
            modelDir.toString(),
            "--images",
            images.toString(),
            "--word",
            c.word(),
            "--superclass",
            c.superclass(),
            "--method",
            m,
            "--steps",
            Integer.toString(trainSteps),
            "--out",
            file.toString());
        double seconds = (System.nanoTime() - t0) / 1e9;
        double[] cost = costs.computeIfAbsent(m, k -> new double[3]);
        cost[0] += seconds;
        cost[1] += Files.size(file);
        cost[2] += 1;
        List<String> eval =
            new ArrayList<>(
                List.of(
                    "eval",
                    "--model",
                    modelDir.toString(),
                    "--concept",
                    file.toString(),
                    "--expect",
                    c.spec().text(),
                    "--prompts",
                    Integer.toString(prompts),
                    "--json",
                    "--out",
                    dir.resolve(m + "-eval").toString()));
        if (m.equals("perfusion")) {
          eval.addAll(List.of("--beta", join(betas)));
        } else if (m.equals("lora")) {
          eval.addAll(List.of("--scale", join(scales)));
        }
        String out = cli(err, eval.toArray(String[]::new));
        points.addAll(parse(c.word(), m, out));
        if (c == suite.get(0)) {
          copyGrid(dir.resolve(m + "-eval"), imgDir.resolve("personalization-" + m + ".png"));
        }
      }
    }
    List<Point> totals = totals(points);
    plot(totals, imgDir.resolve("personalization-front.png"));
    Files.writeString(
        reportFile,
        markdown(modelDir, suite, points, totals, costs, reportFile),
        StandardCharsets.UTF_8);
    spec.commandLine().getOut().println(reportFile);
    return 0;
  }

  private List<SuiteConcept> chooseConcepts(Path modelDir, PrintWriter err) throws IOException {
    List<SuiteConcept> all = ConceptSuite.load();
    List<org.perfusionjobs.world.Pattern> readable;
    try (Evaluator ev = Evaluator.load(modelDir.resolve("evaluator"))) {
      readable = ev.patterns();
    }
    List<SuiteConcept> out = new ArrayList<>();
    for (SuiteConcept c : all) {
      if (!words.isEmpty() && !words.contains(c.word())) {
        continue;
      }
      if (!readable.contains(c.spec().pattern())) {
        err.printf(
            "skipping %s (%s): the evaluator of %s does not read pattern %s%n",
            c.word(), c.spec().text(), modelDir, c.spec().pattern().word());
        continue;
      }
      out.add(c);
    }
    for (String w : words) {
      if (all.stream().noneMatch(c -> c.word().equals(w))) {
        throw new picocli.CommandLine.ParameterException(
            spec.commandLine(), "--concepts: '" + w + "' is not in the suite");
      }
    }
    if (out.isEmpty()) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "no suite concept to run on " + modelDir);
    }
    return quick && out.size() > 2 ? out.subList(0, 2) : out;
  }

  /**
   * Runs one CLI command in a child JVM (same class path) and returns its stdout; fails on a
   * non-zero exit.
   */
  private static String cli(PrintWriter err, String... args)
      throws IOException, InterruptedException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xss4m",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-Dorg.slf4j.simpleLogger.log.ai.djl.util.cuda=error",
                "-Dperfusion.root=" + System.getProperty("perfusion.root", "."),
                "-cp",
                System.getProperty("java.class.path"),
                PerfusionCli.class.getName()));
    cmd.addAll(List.of(args));
    err.printf("$ perfusion %s%n", String.join(" ", args));
    err.flush();
    Path log = Files.createTempFile("bench-personalization", ".log");
    try {
      Process p =
          new ProcessBuilder(cmd)
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .redirectOutput(log.toFile())
              .start();
      if (!p.waitFor(6, TimeUnit.HOURS) || p.exitValue() != 0) {
        throw new IOException(
            "perfusion "
                + args[0]
                + " failed (exit "
                + (p.isAlive() ? "timeout" : p.exitValue())
                + "): "
                + Files.readString(log));
      }
      return Files.readString(log);
    } finally {
      Files.deleteIfExists(log);
    }
  }

  /**
   * The last line of {@code eval --json}: one run's figures, or {"runs": [...]} with a beta or
   * scale each.
   */
  static List<Point> parse(String concept, String method, String stdout) throws IOException {
    String[] lines = stdout.strip().split("\n");
    JsonNode last = Configs.json().readTree(lines[lines.length - 1]);
    List<JsonNode> runs = new ArrayList<>();
    if (last.has("runs")) {
      last.get("runs").forEach(runs::add);
    } else {
      runs.add(last);
    }
    List<Point> out = new ArrayList<>();
    for (JsonNode r : runs) {
      String setting =
          r.has("beta")
              ? String.format(Locale.ROOT, "beta %.2f", r.get("beta").asDouble())
              : r.has("scale")
                  ? String.format(Locale.ROOT, "scale %.2f", r.get("scale").asDouble())
                  : "default";
      JsonNode comp = r.get("composition");
      out.add(
          new Point(
              concept,
              method,
              setting,
              r.get("fidelity").asDouble(),
              r.get("exactCount").asDouble(),
              r.get("alignment").asDouble(),
              comp == null || comp.isNull() ? null : comp.asDouble(),
              r.get("images").asInt()));
    }
    return out;
  }

  /** Per method and setting: the image-weighted mean over concepts. */
  static List<Point> totals(List<Point> points) {
    Map<String, List<Point>> by = new LinkedHashMap<>();
    for (Point p : points) {
      by.computeIfAbsent(p.method() + "|" + p.setting(), k -> new ArrayList<>()).add(p);
    }
    List<Point> out = new ArrayList<>();
    for (List<Point> ps : by.values()) {
      int n = ps.stream().mapToInt(Point::images).sum();
      List<Point> withComp = ps.stream().filter(p -> p.composition() != null).toList();
      double f = weightedMean(ps, Point::fidelity);
      double c = weightedMean(ps, Point::exactCount);
      double a = weightedMean(ps, Point::alignment);
      Double comp = withComp.isEmpty() ? null : weightedMean(withComp, Point::composition);
      out.add(new Point("all", ps.get(0).method(), ps.get(0).setting(), f, c, a, comp, n));
    }
    return out;
  }

  /** The mean of a share over points, each weighted by its images. */
  private static double weightedMean(List<Point> ps, ToDoubleFunction<Point> share) {
    return ps.stream().mapToDouble(p -> share.applyAsDouble(p) * p.images()).sum()
        / ps.stream().mapToInt(Point::images).sum();
  }

  /** One standard error of a share p measured on n images, in points. */
  static double se(double p, int n) {
    return 100 * Math.sqrt(Math.max(p * (1 - p), 0) / Math.max(1, n));
  }

  private String markdown(
      Path modelDir,
      List<SuiteConcept> suite,
      List<Point> points,
      List<Point> totals,
      Map<String, double[]> costs,
      Path reportFile) {
    StringBuilder sb = new StringBuilder();
    sb.append("# Personalization benchmark\n\n");
    sb.append(
        "Perfusion against the methods people use instead, on the same engine, images, prompts,"
            + " evaluator and step budget (issue 18).\n");
    sb.append("Generated by `scripts/perfusion bench-personalization")
        .append(quick ? " --quick" : "")
        .append("` on ")
        .append(LocalDate.now())
        .append(" (model `")
        .append(modelDir)
        .append("`, ")
        .append(prompts)
        .append(" concept prompts per concept and setting, ")
        .append(trainSteps)
        .append(" training steps for every method, ")
        .append(Runtime.getRuntime().availableProcessors())
        .append(" CPU threads).\n\n");
    sb.append("Concepts: ")
        .append(
            String.join(
                ", ",
                suite.stream().map(c -> "`" + c.word() + "` (" + c.spec().text() + ")").toList()))
        .append(".\n");
    sb.append(
            "Fidelity: an object with the concept's shape, colour and pattern found; exact count:"
                + " as many objects as asked; alignment: every other ")
        .append(
            "asked attribute; composition: the concept and a second object both right"
                + " (`docs/evaluation.md`). ± is one standard error over the images.\n\n");
    sb.append(
        "## All concepts\n\n"
            + "| method | setting | file | train time | fidelity | exact count | alignment |"
            + " composition |\n"
            + "|---|---|---|---|---|---|---|---|\n");
    for (Point t : totals) {
      double[] cost = costs.get(t.method());
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %,.0f bytes | %.0f s | %.1f%% ± %.1f | %.1f%% ± %.1f | %.1f%% ± %.1f |"
                  + " %s |%n",
              t.method(),
              t.setting(),
              cost[1] / cost[2],
              cost[0] / cost[2],
              100 * t.fidelity(),
              se(t.fidelity(), t.images()),
              100 * t.exactCount(),
              se(t.exactCount(), t.images()),
              100 * t.alignment(),
              se(t.alignment(), t.images()),
              t.composition() == null
                  ? "n/a"
                  : String.format(
                      Locale.ROOT,
                      "%.1f%% ± %.1f",
                      100 * t.composition(),
                      se(t.composition(), t.images()))));
    }
    sb.append("\n![fidelity against alignment](img/personalization-front.png)\n\n");
    sb.append("## The paper's claims, checked\n\n");
    for (String baseline : List.of("textual-inversion", "lora", "dreambooth", "custom-diffusion")) {
      List<Point> theirs = totals.stream().filter(p -> p.method().equals(baseline)).toList();
      List<Point> ours = totals.stream().filter(p -> p.method().equals("perfusion")).toList();
      if (theirs.isEmpty() || ours.isEmpty()) {
        continue;
      }
      long dominated =
          theirs.stream()
              .filter(
                  b ->
                      ours.stream()
                          .anyMatch(
                              p -> p.fidelity() >= b.fidelity() && p.alignment() >= b.alignment()))
              .count();
      sb.append(
          String.format(
              Locale.ROOT,
              "- %s: %d of %d of its settings are matched or beaten on both fidelity and alignment"
                  + " by a Perfusion beta.%n",
              baseline,
              dominated,
              theirs.size()));
    }
    if (costs.containsKey("lora") && costs.containsKey("perfusion")) {
      sb.append(
          String.format(
              Locale.ROOT,
              "- File size: Perfusion %,.0f bytes, LoRA %,.0f bytes (ratio 1/%.1f).%n",
              costs.get("perfusion")[1] / costs.get("perfusion")[2],
              costs.get("lora")[1] / costs.get("lora")[2],
              costs.get("lora")[1]
                  / costs.get("lora")[2]
                  / (costs.get("perfusion")[1] / costs.get("perfusion")[2])));
    }
    sb.append(
        "\n"
            + "## Per concept\n\n"
            + "| concept | method | setting | fidelity | exact count | alignment | composition |"
            + " images |\n"
            + "|---|---|---|---|---|---|---|---|\n");
    for (Point p : points) {
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %s | %.1f%% | %.1f%% | %.1f%% | %s | %d |%n",
              p.concept(),
              p.method(),
              p.setting(),
              100 * p.fidelity(),
              100 * p.exactCount(),
              100 * p.alignment(),
              p.composition() == null
                  ? "n/a"
                  : String.format(Locale.ROOT, "%.1f%%", 100 * p.composition()),
              p.images()));
    }
    sb.append("\n## Samples (first concept, first 64 prompts)\n\n");
    for (String m : methods) {
      sb.append("- ")
          .append(m)
          .append(": ![")
          .append(m)
          .append("](img/personalization-")
          .append(m)
          .append(".png)\n");
    }
    return sb.toString();
  }

  private static void copyGrid(Path evalOut, Path target) throws IOException {
    try (var files = Files.list(evalOut)) {
      Path grid =
          files
              .filter(f -> f.getFileName().toString().startsWith("grid"))
              .sorted()
              .findFirst()
              .orElse(null);
      if (grid != null) {
        Files.copy(grid, target, StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  /** Fidelity (y) against alignment (x), one polyline per method through its settings. */
  static void plot(List<Point> totals, Path file) throws IOException {
    int w = 720;
    int h = 540;
    int left = 70;
    int bottom = 60;
    int top = 30;
    int right = 190;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, w, h);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    int pw = w - left - right;
    int ph = h - top - bottom;
    g.drawRect(left, top, pw, ph);
    for (int t = 0; t <= 10; t += 2) {
      int x = left + pw * t / 10;
      int y = top + ph - ph * t / 10;
      g.drawString(t * 10 + "%", x - 12, top + ph + 18);
      g.drawString(t * 10 + "%", left - 40, y + 4);
    }
    g.drawString("alignment (other asked attributes right)", left + pw / 2 - 110, h - 15);
    g.drawString("fidelity", 10, top + ph / 2);
    Color[] colours = {
      new Color(200, 30, 30),
      new Color(30, 90, 200),
      new Color(30, 150, 60),
      new Color(220, 140, 0),
      new Color(130, 50, 170)
    };
    int k = 0;
    for (String m : METHODS) {
      List<Point> ps = totals.stream().filter(p -> p.method().equals(m)).toList();
      if (ps.isEmpty()) {
        continue;
      }
      g.setColor(colours[k % colours.length]);
      g.setStroke(new BasicStroke(2f));
      int[] xs = ps.stream().mapToInt(p -> left + (int) Math.round(pw * p.alignment())).toArray();
      int[] ys =
          ps.stream().mapToInt(p -> top + ph - (int) Math.round(ph * p.fidelity())).toArray();
      g.drawPolyline(xs, ys, xs.length);
      for (int i = 0; i < xs.length; i++) {
        g.fillOval(xs[i] - 4, ys[i] - 4, 8, 8);
      }
      g.fillRect(left + pw + 20, top + 20 + 22 * k, 14, 14);
      g.drawString(m, left + pw + 40, top + 32 + 22 * k);
      k++;
    }
    g.dispose();
    ImageCodec.writePng(img, file);
  }

  private static String join(List<Float> values) {
    return String.join(",", values.stream().map(v -> String.format(Locale.ROOT, "%s", v)).toList());
  }
}
