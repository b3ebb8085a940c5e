package org.perfusionjobs.cli;

import static org.perfusionjobs.cli.BenchCells.comparableConcepts;
import static org.perfusionjobs.cli.BenchCells.parse;
import static org.perfusionjobs.cli.BenchCells.parseGates;
import static org.perfusionjobs.cli.BenchCells.totals;
import static org.perfusionjobs.cli.BenchMethods.ABLATIONS;
import static org.perfusionjobs.cli.BenchMethods.ALL_METHODS;
import static org.perfusionjobs.cli.BenchMethods.BASELINE_ARGS;
import static org.perfusionjobs.cli.BenchMethods.RUNTIME_VARIANTS;
import static org.perfusionjobs.cli.BenchMethods.VARIANTS;
import static org.perfusionjobs.cli.BenchMethods.cellSettings;
import static org.perfusionjobs.cli.BenchMethods.isPairMethod;
import static org.perfusionjobs.cli.BenchMethods.isPerfusion;
import static org.perfusionjobs.cli.BenchMethods.isVariant;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.perfusionjobs.cli.BenchCells.Cell;
import org.perfusionjobs.cli.BenchCells.Gate;
import org.perfusionjobs.cli.BenchCells.Point;
import org.perfusionjobs.cli.BenchMethods.RuntimeVariant;
import org.perfusionjobs.evaluator.Evaluator;
import org.perfusionjobs.evaluator.concepts.ConceptSuite;
import org.perfusionjobs.evaluator.concepts.SuiteConcept;
import org.perfusionjobs.evaluator.prompts.EvalPrompt;
import org.perfusionjobs.evaluator.prompts.PromptSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion bench-personalization}: the paper's comparison on this world. For every suite
 * concept the model's evaluator can read and every method: training images from the concept's spec,
 * training with the method (same images, step budget and seed), evaluation on the concept prompt
 * set (Perfusion at several betas from one file, LoRA at several scales), and a report: {@code
 * docs/personalization.md}, a fidelity-vs-alignment plot and a sample grid per method. Perfusion's
 * ablations ({@link #ABLATIONS}) are methods of their own, and every Perfusion-family file also
 * gets a per-token gate table ({@code concept-gates --prompts-file --json}).
 *
 * <p>Each step runs the CLI's own command ({@code concept-images}, {@code train --method}, {@code
 * eval --json}) in a child JVM, so the benchmark measures exactly what users run, and one step's
 * memory cannot leak into the next.
 */
@Command(
    name = "bench-personalization",
    mixinStandardHelpOptions = true,
    description =
        "Perfusion against textual inversion, custom diffusion, LoRA and DreamBooth, and against"
            + " its own ablations, on the concept suite; writes docs/personalization.md.")
final class BenchPersonalizationCommand implements Callable<Integer> {
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
      defaultValue =
          "perfusion,perfusion-no-key-lock,perfusion-no-gate,perfusion-no-cinv,"
              + "textual-inversion,custom-diffusion,lora,dreambooth",
      description =
          "methods; perfusion-no-key-lock, perfusion-no-gate and perfusion-no-cinv are Perfusion's"
              + " ablations (train --ablation), all evaluated at the same betas. Variants beyond"
              + " the paper (see --with-variants): perfusion-captions (trained with --captions"
              + " per-image), perfusion-balanced (--embedding-norm-cap 1 --background-weight 0.5),"
              + " perfusion-captions-balanced (all three), perfusion-layout (perfusion's file"
              + " evaluated with --superclass-layout 0.1), perfusion-regions (with --regions 0"
              + " --confine), perfusion-guided and perfusion-guided-2 (with --concept-guidance 3"
              + " and 2), perfusion-soft-key (--key-rate 0.1) and perfusion-soft-key-regions (its"
              + " file with --regions 0 --confine) (default:"
              + " ${DEFAULT-VALUE})")
  List<String> methods;

  @Option(
      names = "--with-variants",
      description =
          "add Perfusion's variants beyond the paper to --methods: the trained perfusion-captions,"
              + " perfusion-balanced, perfusion-captions-balanced and perfusion-soft-key (four more"
              + " trainings per concept) and the run-time perfusion-layout, perfusion-regions,"
              + " perfusion-guided, perfusion-guided-2 and perfusion-soft-key-regions (one eval"
              + " each)")
  boolean withVariants;

  @Option(
      names = "--prompts",
      defaultValue = "20",
      description =
          "concept prompts per concept and setting; 20 keeps the whole default run within 4 hours"
              + " here, the docs report uses 40 (default: ${DEFAULT-VALUE})")
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
      names = "--results",
      description =
          "folder of finished cells (one JSON per concept and method), read back so that a run"
              + " resumes where the last one stopped (default: <work>/results; with --docs:"
              + " docs/personalization/<model folder name>)")
  Path results;

  @Option(
      names = "--docs",
      description =
          "write the docs report: the cells kept in docs/personalization/<model folder name>, the"
              + " report docs/personalization.md and the totals docs/perfusion.md quotes (it is"
              + " --prompts 40 --with-variants; a run at other settings would replace those cells)")
  boolean docs;

  @Option(
      names = "--budget-minutes",
      defaultValue = "0",
      description =
          "start no new cell after this many minutes and write the report from the cells done so"
              + " far; 0: no limit (default: ${DEFAULT-VALUE})")
  double budgetMinutes;

  @Option(
      names = "--subset-methods",
      split = ",",
      description =
          "methods run on some concepts only (e.g. one too slow for every concept): left out of the"
              + " totals and of the choice of the concepts they cover, and compared with every"
              + " method over their own concepts in a section of their own (default: none)")
  List<String> subsetMethods = new ArrayList<>();

  @Option(
      names = "--no-pairs",
      description =
          "skip the two-concept prompts (each Perfusion-family method's concept files combined in"
              + " pairs of consecutive concepts)")
  boolean noPairs;

  @Option(
      names = "--report-only",
      description =
          "train and evaluate nothing: write the report (with --docs, also docs/perfusion.md's"
              + " totals) from the cells kept so far")
  boolean reportOnly;

  @Option(
      names = "--work",
      defaultValue = "out/bench-personalization",
      description = "folder for images, concept files and eval reports (default: ${DEFAULT-VALUE})")
  Path work;

  @Option(
      names = "--report",
      description =
          "report to write (default: <work>/personalization.md; with --docs:"
              + " docs/personalization.md)")
  Path report;

  /**
   * The methods a run covers: {@code --methods}, with every variant beyond the paper in report
   * order when {@code --with-variants} asks for them. They stay out of the default so that the
   * paper's comparison (its method, its ablations, the four baselines) fits the 4 hours issue 18
   * allows.
   */
  List<String> selectedMethods() {
    if (!withVariants) {
      return methods;
    }
    return ALL_METHODS.stream().filter(m -> methods.contains(m) || isVariant(m)).toList();
  }

  /**
   * Where the report goes: {@code --report}, else the docs report with {@code --docs}, else beside
   * the work. Only {@code --docs} writes into docs/, so that a run at other settings never replaces
   * the committed cells.
   */
  Path reportFile(Path root) {
    return report != null
        ? report
        : docs ? root.resolve("docs/personalization.md") : work.resolve("personalization.md");
  }

  /** Where the cells are kept: {@code --results}, else as {@link #reportFile}. */
  Path cellDir(Path root, Path modelDir) {
    return results != null
        ? results
        : docs
            ? root.resolve("docs/personalization").resolve(modelDir.getFileName().toString())
            : work.resolve("results");
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    Path root = Path.of(System.getProperty("perfusion.root", "."));
    Path modelDir = model != null ? model : root.resolve("models/world-v2");
    if (quick) {
      prompts = Math.min(prompts, 12);
      trainSteps = Math.min(trainSteps, 40);
      betas = betas.size() > 3 ? List.of(0.5f, 0.7f, 0.9f) : betas;
      scales = scales.size() > 2 ? List.of(0.5f, 1f) : scales;
    }
    for (String m : methods) {
      if (!ALL_METHODS.contains(m)) {
        throw new picocli.CommandLine.ParameterException(
            spec.commandLine(),
            "--methods: unknown method '" + m + "'; use " + String.join(", ", ALL_METHODS));
      }
    }
    if (docs && quick) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--docs: the docs report is not a --quick run; drop one of the two");
    }
    methods = selectedMethods();
    List<SuiteConcept> suite = chooseConcepts(modelDir, err);
    Path reportFile = reportFile(root);
    Path imgDir = reportFile.toAbsolutePath().getParent().resolve("img");
    Files.createDirectories(imgDir);
    Path cellDir = cellDir(root, modelDir);
    String settings = settingsKey(modelDir);
    long deadline =
        reportOnly
            ? Long.MIN_VALUE
            : budgetMinutes > 0
                ? System.nanoTime() + (long) (budgetMinutes * 60e9)
                : Long.MAX_VALUE;
    List<Cell> cells = new ArrayList<>();
    int missing = 0;
    for (SuiteConcept c : suite) {
      Path dir = work.resolve(c.word());
      Path images = dir.resolve("images");
      boolean imagesMade = false;
      for (String m : methods) {
        Path cellFile = cellDir.resolve(c.word()).resolve(m + ".json");
        Cell done = Cell.read(cellFile, cellSettings(settings, m));
        if (done != null) {
          cells.add(done);
          continue;
        }
        if (System.nanoTime() > deadline) {
          missing++;
          continue;
        }
        if (!imagesMade) {
          makeImages(err, c, dir, images);
          imagesMade = true;
        }
        Cell cell = runCell(err, modelDir, cellDir, c, m, dir, images, cellSettings(settings, m));
        cell.write(cellFile);
        if (isPairMethod(m) && !RUNTIME_VARIANTS.containsKey(m)) { // a later run's pairs need it
          keepConceptFile(dir.resolve(m + ".safetensors"), cellDir, c, m);
        }
        cells.add(cell);
        if (c == suite.get(0)) {
          copyGrid(dir.resolve(m + "-eval"), imgDir.resolve("personalization-" + m + ".png"));
        }
      }
    }
    List<Point> points = new ArrayList<>();
    List<Gate> gates = new ArrayList<>();
    Map<String, double[]> costs = new LinkedHashMap<>(); // method -> {seconds sum, bytes sum, runs}
    for (Cell cell : cells) {
      points.addAll(cell.points());
      gates.addAll(cell.gates());
      double[] cost = costs.computeIfAbsent(cell.method(), k -> new double[3]);
      cost[0] += cell.trainSeconds();
      cost[1] += cell.fileBytes();
      cost[2] += 1;
    }
    Set<String> compared = comparableConcepts(cells, Set.copyOf(subsetMethods));
    List<ConceptPairs.PairCell> pairCells = new ArrayList<>();
    if (!noPairs) {
      List<SuiteConcept> pairable =
          suite.stream().filter(c -> compared.contains(c.word())).toList();
      List<String> pairMethods = new ArrayList<>(); // ablations and baselines share no prompt
      for (String m : methods) {
        if (isPairMethod(m)) {
          pairMethods.add(m);
        }
      }
      if (!pairMethods.isEmpty()) {
        pairMethods.add(0, ConceptPairs.WORDS); // the ceilings first
        if (pairMethods.contains("perfusion-regions")) {
          pairMethods.add(1, ConceptPairs.WORDS_REGIONS);
        }
      }
      for (SuiteConcept[] pair : ConceptPairs.pairs(pairable)) {
        for (String m : pairMethods) {
          String name = pair[0].word() + "+" + pair[1].word();
          Path cellFile = cellDir.resolve("pairs").resolve(name).resolve(m + ".json");
          ConceptPairs.PairCell done =
              ConceptPairs.PairCell.read(cellFile, cellSettings(settings, m));
          if (done != null) {
            pairCells.add(done);
          } else if (System.nanoTime() > deadline) {
            missing++;
          } else {
            ConceptPairs.PairCell cell =
                runPair(err, modelDir, cellDir, pair, m, cellSettings(settings, m));
            cell.write(cellFile);
            pairCells.add(cell);
            if (pair[0] == pairable.get(0)) { // the first pair's images, as for single cells
              copyGrid(
                  work.resolve("pairs").resolve(name).resolve(m + "-eval"),
                  imgDir.resolve("personalization-pair-" + m + ".png"));
            }
          }
        }
      }
    }
    List<Point> totals =
        totals(
            points.stream()
                .filter(p -> compared.contains(p.concept()))
                .filter(p -> !subsetMethods.contains(p.method()))
                .toList());
    PersonalizationReport.plot(totals, imgDir.resolve("personalization-front.png"));
    PersonalizationReport.Run run =
        new PersonalizationReport.Run(
            root.toAbsolutePath().normalize(),
            modelDir,
            quick,
            prompts,
            trainSteps,
            methods,
            subsetMethods);
    Files.writeString(
        reportFile,
        new PersonalizationReport(run)
            .markdown(
                new PersonalizationReport.Results(
                    suite,
                    points,
                    totals,
                    costs,
                    gates,
                    cells.size(),
                    missing,
                    compared,
                    pairCells)),
        StandardCharsets.UTF_8);
    spec.commandLine().getOut().println(reportFile);
    if (docs && report == null) { // the docs report: the method's page quotes its totals
      Path page = root.resolve("docs/perfusion.md");
      ReportSummary.splice(page, ReportSummary.block(totals, compared));
      spec.commandLine().getOut().println(page);
    }
    if (missing > 0) {
      err.printf(
          "%d of %d cells done; run the same command again to go on (finished cells are kept in"
              + " %s)%n",
          cells.size(), cells.size() + missing, cellDir);
    }
    return 0;
  }

  /**
   * What a finished cell must have been run with to be reused: the model folder's name, the step
   * budget, the prompt count, the betas and the scales, and a baseline's own train arguments
   * ({@link #cellSettings}).
   */
  private String settingsKey(Path modelDir) {
    return String.format(
        Locale.ROOT,
        "model=%s steps=%d prompts=%d betas=%s scales=%s",
        modelDir.getFileName(),
        trainSteps,
        prompts,
        join(betas),
        join(scales));
  }

  /** One concept's five training images and masks, from its spec. */
  private static void makeImages(PrintWriter err, SuiteConcept c, Path dir, Path images)
      throws IOException, InterruptedException {
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
  }

  /**
   * Trains one method on one concept, evaluates it and, for Perfusion's family, its gates. A
   * run-time variant trains nothing: it evaluates its source's kept file (training it if it is
   * missing) and reports the source's training time; its gates are the source's.
   */
  private Cell runCell(
      PrintWriter err,
      Path modelDir,
      Path cellDir,
      SuiteConcept c,
      String m,
      Path dir,
      Path images,
      String settings)
      throws IOException, InterruptedException {
    Path gatePrompts = dir.resolve("gate-prompts.txt");
    Files.writeString(gatePrompts, String.join("\n", gatePrompts(c)) + "\n");
    RuntimeVariant runtime = RUNTIME_VARIANTS.get(m);
    Path file;
    double seconds;
    if (runtime != null) {
      file = conceptFile(err, modelDir, cellDir, c, runtime.source());
      Cell source =
          Cell.read(
              cellDir.resolve(c.word()).resolve(runtime.source() + ".json"),
              cellSettings(settingsKey(modelDir), runtime.source()));
      seconds = source == null ? 0 : source.trainSeconds();
    } else {
      file = dir.resolve(m + ".safetensors");
      long t0 = System.nanoTime();
      train(err, modelDir, c, m, images, file);
      seconds = (System.nanoTime() - t0) / 1e9;
    }
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
    if (isPerfusion(m)) {
      eval.addAll(List.of("--beta", join(betas)));
    } else if (m.equals("lora")) {
      eval.addAll(List.of("--scale", join(scales)));
    }
    if (runtime != null) {
      eval.addAll(runtime.evalArgs());
    }
    String out = cli(err, eval.toArray(String[]::new));
    List<Point> points = parse(c.word(), m, out);
    List<Gate> gates = new ArrayList<>();
    if (isPerfusion(m) && runtime == null) {
      for (float b : betas) {
        String g =
            cli(
                err,
                "concept-gates",
                "--model",
                modelDir.toString(),
                "--concept",
                file.toString(),
                "--prompts-file",
                gatePrompts.toString(),
                "--beta",
                Float.toString(b),
                "--json");
        gates.addAll(parseGates(c.word(), m, g));
      }
    }
    return new Cell(c.word(), m, settings, seconds, Files.size(file), points, gates);
  }

  /**
   * Trains method {@code m} on concept {@code c}'s images into {@code file}, as every cell does.
   */
  private void train(
      PrintWriter err, Path modelDir, SuiteConcept c, String m, Path images, Path file)
      throws IOException, InterruptedException {
    List<String> train =
        new ArrayList<>(
            List.of(
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
                isPerfusion(m) ? "perfusion" : m,
                "--steps",
                Integer.toString(trainSteps),
                "--out",
                file.toString()));
    train.addAll(VARIANTS.getOrDefault(m, List.of()));
    train.addAll(BASELINE_ARGS.getOrDefault(m, List.of()));
    if (ABLATIONS.containsKey(m)) {
      train.addAll(List.of("--ablation", ABLATIONS.get(m).word()));
    }
    cli(err, train.toArray(String[]::new));
  }

  /**
   * Evaluates one method's two concept files in the pair prompts. Each file is the one kept beside
   * its cell ({@link #conceptFile}), so pairs can be run in a later sitting than the cells.
   */
  private ConceptPairs.PairCell runPair(
      PrintWriter err, Path modelDir, Path cellDir, SuiteConcept[] pair, String m, String settings)
      throws IOException, InterruptedException {
    String name = pair[0].word() + "+" + pair[1].word();
    List<String> args = new ArrayList<>(List.of("eval", "--model", modelDir.toString()));
    List<String> lines;
    String promptName;
    if (ConceptPairs.isWords(m)) { // the base model, words in place of the concepts
      lines = ConceptPairs.wordPrompts(prompts, pair[0], pair[1]);
      promptName = "words.txt";
    } else {
      RuntimeVariant runtime = RUNTIME_VARIANTS.get(m);
      String fileMethod = runtime == null ? m : runtime.source();
      Path a = conceptFile(err, modelDir, cellDir, pair[0], fileMethod);
      Path b = conceptFile(err, modelDir, cellDir, pair[1], fileMethod);
      args.addAll(List.of("--concept", a.toString(), "--concept", b.toString()));
      args.addAll(List.of("--expect", pair[0].spec().text(), "--expect", pair[1].spec().text()));
      lines = ConceptPairs.prompts(prompts);
      promptName = "prompts.txt";
    }
    Path dir = work.resolve("pairs").resolve(name);
    Files.createDirectories(dir);
    Path promptFile = dir.resolve(promptName);
    Files.writeString(promptFile, String.join("\n", lines) + "\n");
    args.addAll(
        List.of(
            "--prompts-file",
            promptFile.toString(),
            "--json",
            "--out",
            dir.resolve(m + "-eval").toString()));
    if (RUNTIME_VARIANTS.containsKey(m)) {
      args.addAll(RUNTIME_VARIANTS.get(m).evalArgs());
    }
    if (m.equals(ConceptPairs.WORDS_REGIONS)) {
      args.addAll(BenchMethods.REGIONS_ARGS);
    }
    Point p = parse(name, m, cli(err, args.toArray(String[]::new))).get(0);
    return new ConceptPairs.PairCell(pair[0].word(), pair[1].word(), m, settings, p);
  }

  /**
   * Concept {@code c}'s file for pair method {@code m}: the one kept beside its cell; else this
   * work folder's, kept there now; else (its cell ran in a work folder since lost) trained again
   * with the cell's recipe and seed, and kept.
   */
  private Path conceptFile(PrintWriter err, Path modelDir, Path cellDir, SuiteConcept c, String m)
      throws IOException, InterruptedException {
    Path kept = keptConceptFile(cellDir, c, m);
    if (Files.exists(kept)) {
      return kept;
    }
    Path dir = work.resolve(c.word());
    Path file = dir.resolve(m + ".safetensors");
    if (!Files.exists(file)) {
      err.printf("%s (%s): no concept file kept beside its cell; training it again%n", c.word(), m);
      Path images = dir.resolve("images");
      if (!Files.isDirectory(images)) {
        makeImages(err, c, dir, images);
      }
      train(err, modelDir, c, m, images, file);
    }
    keepConceptFile(file, cellDir, c, m);
    return kept;
  }

  /** Where pair method {@code m}'s file for concept {@code c} is kept: beside its cell. */
  private static Path keptConceptFile(Path cellDir, SuiteConcept c, String m) {
    return cellDir.resolve(c.word()).resolve(m + ".safetensors");
  }

  private static void keepConceptFile(Path file, Path cellDir, SuiteConcept c, String m)
      throws IOException {
    Path kept = keptConceptFile(cellDir, c, m);
    Files.createDirectories(kept.getParent());
    Files.copy(file, kept, StandardCopyOption.REPLACE_EXISTING);
  }

  /** The distinct texts of the concept prompt set eval scores (same seed and count). */
  private List<String> gatePrompts(SuiteConcept c) {
    return PromptSet.concept(c.word(), c.spec(), PROMPT_SEED, prompts).stream()
        .map(EvalPrompt::text)
        .distinct()
        .toList();
  }

  /** eval's default --prompt-seed, so the gate table covers the prompts that were scored. */
  static final long PROMPT_SEED = 2026;

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

  private static String join(List<Float> values) {
    return String.join(",", values.stream().map(v -> String.format(Locale.ROOT, "%s", v)).toList());
  }
}
