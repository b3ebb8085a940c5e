package org.perfusionjobs.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.perfusion.PerfusionAblation;
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
  static final List<String> METHODS =
      List.of("perfusion", "textual-inversion", "custom-diffusion", "lora", "dreambooth");

  /**
   * Perfusion without one of its parts (issue 18 item 6): bench name -> {@code train --ablation}.
   */
  static final Map<String, PerfusionAblation> ABLATIONS =
      Map.of(
          "perfusion-no-key-lock", PerfusionAblation.NO_KEY_LOCK,
          "perfusion-no-gate", PerfusionAblation.NO_GATE,
          "perfusion-no-cinv", PerfusionAblation.NO_CINV);

  /**
   * Perfusion with options beyond the paper (issue 23), measured beside it: bench name -> extra
   * {@code train} arguments.
   */
  static final Map<String, List<String>> VARIANTS =
      Map.of(
          "perfusion-captions",
          List.of("--captions", "per-image"),
          "perfusion-balanced",
          List.of("--embedding-norm-cap", "1", "--background-weight", "0.5"),
          "perfusion-captions-balanced",
          List.of(
              "--captions",
              "per-image",
              "--embedding-norm-cap",
              "1",
              "--background-weight",
              "0.5"));

  /**
   * Baselines whose reference rate does not suit the world model, with the {@code train} arguments
   * the benchmark runs them with instead (docs/perfusion.md#baselines): DreamBooth's 5e-6
   * (diffusers' for SD v1.5) left the UNet where it was in 400 steps here (fidelity 2.5% on zwx, 0%
   * on vkp). A cell records them in its settings, so a cell run otherwise is run again.
   */
  static final Map<String, List<String>> BASELINE_ARGS =
      Map.of("dreambooth", List.of("--lr", "5e-5"));

  /** Every --methods name, in report order. */
  static final List<String> ALL_METHODS =
      List.of(
          "perfusion",
          "perfusion-captions",
          "perfusion-balanced",
          "perfusion-captions-balanced",
          "perfusion-no-key-lock",
          "perfusion-no-gate",
          "perfusion-no-cinv",
          "textual-inversion",
          "custom-diffusion",
          "lora",
          "dreambooth");

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
          "perfusion,perfusion-captions,perfusion-balanced,perfusion-captions-balanced,"
              + "perfusion-no-key-lock,perfusion-no-gate,perfusion-no-cinv,"
              + "textual-inversion,custom-diffusion,lora,dreambooth",
      description =
          "methods; perfusion-no-key-lock, perfusion-no-gate and perfusion-no-cinv are Perfusion's"
              + " ablations (train --ablation); perfusion-captions is Perfusion trained with"
              + " --captions per-image, perfusion-balanced with --embedding-norm-cap 1"
              + " --background-weight 0.5, perfusion-captions-balanced with all three; all"
              + " evaluated at the same betas (default:"
              + " ${DEFAULT-VALUE})")
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
      names = "--results",
      description =
          "folder of finished cells (one JSON per concept and method), read back so that a run"
              + " resumes where the last one stopped (default: docs/personalization/<model folder"
              + " name>; with --quick: <work>/results)")
  Path results;

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
          "train and evaluate nothing: write the report (and docs/perfusion.md's totals) from the"
              + " cells kept so far")
  boolean reportOnly;

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

  /** One prompt's gates: on the concept's word, and the largest on any other token. */
  record Gate(
      String concept, String method, float beta, double word, double other, String otherToken) {}

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
    List<SuiteConcept> suite = chooseConcepts(modelDir, err);
    Path reportFile =
        report != null
            ? report
            : quick ? work.resolve("personalization.md") : root.resolve("docs/personalization.md");
    Path imgDir = reportFile.toAbsolutePath().getParent().resolve("img");
    Files.createDirectories(imgDir);
    Path cellDir =
        results != null
            ? results
            : quick
                ? work.resolve("results")
                : root.resolve("docs/personalization").resolve(modelDir.getFileName().toString());
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
        Cell cell = runCell(err, modelDir, c, m, dir, images, cellSettings(settings, m));
        cell.write(cellFile);
        if (isPairMethod(m)) { // a later run's pairs need it, whatever its work folder
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
        pairMethods.add(0, ConceptPairs.WORDS); // the ceiling first
      }
      for (SuiteConcept[] pair : ConceptPairs.pairs(pairable)) {
        for (String m : pairMethods) {
          String name = pair[0].word() + "+" + pair[1].word();
          Path cellFile = cellDir.resolve("pairs").resolve(name).resolve(m + ".json");
          ConceptPairs.PairCell done = ConceptPairs.PairCell.read(cellFile, settings);
          if (done != null) {
            pairCells.add(done);
          } else if (System.nanoTime() > deadline) {
            missing++;
          } else {
            ConceptPairs.PairCell cell = runPair(err, modelDir, cellDir, pair, m, settings);
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
    if (report == null && !quick) { // the docs report: the method's page quotes its totals
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
   * The concepts that have a cell for every method that has any but {@code subsetMethods} (run on
   * some concepts by design), in suite order: the totals compare methods on the same concepts only,
   * so a partial run does not weigh one method's easy concepts against another's hard ones.
   */
  static Set<String> comparableConcepts(List<Cell> cells, Set<String> subsetMethods) {
    Set<String> methodsSeen = new LinkedHashSet<>();
    Map<String, Set<String>> byConcept = new LinkedHashMap<>();
    for (Cell c : cells) {
      if (subsetMethods.contains(c.method())) {
        continue;
      }
      methodsSeen.add(c.method());
      byConcept.computeIfAbsent(c.concept(), k -> new LinkedHashSet<>()).add(c.method());
    }
    Set<String> out = new LinkedHashSet<>();
    byConcept.forEach(
        (concept, ms) -> {
          if (ms.containsAll(methodsSeen)) {
            out.add(concept);
          }
        });
    return out;
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

  /** {@code settings} with method {@code m}'s own train arguments, if it has any. */
  static String cellSettings(String settings, String m) {
    List<String> args = BASELINE_ARGS.get(m);
    return args == null ? settings : settings + " train=" + String.join(" ", args);
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

  /** Trains one method on one concept, evaluates it and, for Perfusion's family, its gates. */
  private Cell runCell(
      PrintWriter err,
      Path modelDir,
      SuiteConcept c,
      String m,
      Path dir,
      Path images,
      String settings)
      throws IOException, InterruptedException {
    Path gatePrompts = dir.resolve("gate-prompts.txt");
    Files.writeString(gatePrompts, String.join("\n", gatePrompts(c)) + "\n");
    Path file = dir.resolve(m + ".safetensors");
    long t0 = System.nanoTime();
    train(err, modelDir, c, m, images, file);
    double seconds = (System.nanoTime() - t0) / 1e9;
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
    String out = cli(err, eval.toArray(String[]::new));
    List<Point> points = parse(c.word(), m, out);
    List<Gate> gates = new ArrayList<>();
    if (isPerfusion(m)) {
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
    if (m.equals(ConceptPairs.WORDS)) { // the base model, words in place of the concepts
      lines = ConceptPairs.wordPrompts(prompts, pair[0], pair[1]);
      promptName = "words.txt";
    } else {
      Path a = conceptFile(err, modelDir, cellDir, pair[0], m);
      Path b = conceptFile(err, modelDir, cellDir, pair[1], m);
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
    Point p = parse(name, m, cli(err, args.toArray(String[]::new))).get(0);
    return new ConceptPairs.PairCell(pair[0].word(), pair[1].word(), m, settings, p);
  }

  /** Whether method {@code m}'s concept files are combined in the two-concept prompts. */
  static boolean isPairMethod(String m) {
    return m.equals("perfusion") || VARIANTS.containsKey(m);
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

  /**
   * One finished (concept, method) cell: its training cost and what eval and concept-gates
   * measured. Kept as JSON so that the benchmark, longer than one sitting, resumes where it
   * stopped.
   */
  record Cell(
      String concept,
      String method,
      String settings,
      double trainSeconds,
      long fileBytes,
      List<Point> points,
      List<Gate> gates) {

    void write(Path file) throws IOException {
      writeCell(file, this);
    }

    /** The cell in {@code file} if it exists and was run with {@code settings}; else null. */
    static Cell read(Path file, String settings) throws IOException {
      Cell c = readCell(file, Cell.class);
      return c != null && settings.equals(c.settings()) ? c : null;
    }
  }

  /** Writes a finished cell as JSON, atomically (an interrupted run leaves no half cell). */
  static void writeCell(Path file, Object cell) throws IOException {
    Files.createDirectories(file.getParent());
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(
        tmp, Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(cell) + "\n");
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** The cell in {@code file}, or null when there is none. */
  static <T> T readCell(Path file, Class<T> type) throws IOException {
    return Files.exists(file) ? Configs.json().readValue(file.toFile(), type) : null;
  }

  static boolean isPerfusion(String method) {
    return method.equals("perfusion")
        || ABLATIONS.containsKey(method)
        || VARIANTS.containsKey(method);
  }

  /** The report's name of a method: e.g. {@code perfusion (no key-lock)} for an ablation. */
  static String label(String method) {
    PerfusionAblation a = ABLATIONS.get(method);
    if (VARIANTS.containsKey(method)) {
      return VARIANT_LABELS.get(method);
    }
    return a == null ? method : "perfusion (" + a.label() + ")";
  }

  /** Short names of the variants (the plot's legend); the report spells out their options. */
  static final Map<String, String> VARIANT_LABELS =
      Map.of(
          "perfusion-captions", "perfusion + captions",
          "perfusion-balanced", "perfusion + balanced",
          "perfusion-captions-balanced", "perfusion + captions + balanced");

  /** The distinct texts of the concept prompt set eval scores (same seed and count). */
  private List<String> gatePrompts(SuiteConcept c) {
    return PromptSet.concept(c.word(), c.spec(), PROMPT_SEED, prompts).stream()
        .map(EvalPrompt::text)
        .distinct()
        .toList();
  }

  /** eval's default --prompt-seed, so the gate table covers the prompts that were scored. */
  static final long PROMPT_SEED = 2026;

  /** The last line of {@code concept-gates --json}: one row per prompt. */
  static List<Gate> parseGates(String concept, String method, String stdout) throws IOException {
    String[] lines = stdout.strip().split("\n");
    JsonNode last = Configs.json().readTree(lines[lines.length - 1]);
    float beta = (float) last.get("beta").asDouble();
    List<Gate> out = new ArrayList<>();
    for (JsonNode r : last.get("prompts")) {
      out.add(
          new Gate(
              concept,
              method,
              beta,
              r.get("concept").asDouble(),
              r.get("other").asDouble(),
              r.get("otherToken").asText()));
    }
    return out;
  }

  /**
   * Per method and beta over all prompts and concepts: the mean gate on the concept's word, the
   * mean largest gate on another token, the share of prompts where that gate reaches 0.5, and the
   * other token that most often has the largest gate (ties: the first seen).
   */
  record GateTotal(
      String method,
      float beta,
      int prompts,
      double word,
      double other,
      double openElsewhere,
      String commonToken) {}

  static List<GateTotal> gateTotals(List<Gate> gates) {
    Map<String, List<Gate>> by = new LinkedHashMap<>();
    for (Gate g : gates) {
      by.computeIfAbsent(g.method() + "|" + g.beta(), k -> new ArrayList<>()).add(g);
    }
    List<GateTotal> out = new ArrayList<>();
    for (List<Gate> gs : by.values()) {
      Map<String, Integer> tokens = new LinkedHashMap<>();
      for (Gate g : gs) {
        tokens.merge(g.otherToken(), 1, Integer::sum);
      }
      String common =
          tokens.entrySet().stream()
              .reduce((a, b) -> b.getValue() > a.getValue() ? b : a)
              .orElseThrow()
              .getKey();
      out.add(
          new GateTotal(
              gs.get(0).method(),
              gs.get(0).beta(),
              gs.size(),
              gs.stream().mapToDouble(Gate::word).average().orElse(Double.NaN),
              gs.stream().mapToDouble(Gate::other).average().orElse(Double.NaN),
              gs.stream().filter(g -> g.other() >= 0.5).count() / (double) gs.size(),
              common));
    }
    return out;
  }

  /**
   * Each ablation's change against Perfusion at the same setting, in points (ablation minus
   * Perfusion): {fidelity, exact count, alignment}; settings Perfusion lacks are left out.
   */
  static Map<String, double[]> ablationDeltas(List<Point> totals) {
    Map<String, double[]> out = new LinkedHashMap<>();
    for (Point a : totals) {
      if (!ABLATIONS.containsKey(a.method()) && !VARIANTS.containsKey(a.method())) {
        continue;
      }
      totals.stream()
          .filter(p -> p.method().equals("perfusion") && p.setting().equals(a.setting()))
          .findFirst()
          .ifPresent(
              p ->
                  out.put(
                      a.method() + "|" + a.setting(),
                      new double[] {
                        100 * (a.fidelity() - p.fidelity()),
                        100 * (a.exactCount() - p.exactCount()),
                        100 * (a.alignment() - p.alignment())
                      }));
    }
    return out;
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

  /** A share as a percentage, or n/a when nothing asked for it (composition). */
  static String share(Double p) {
    return p == null ? "n/a" : String.format(Locale.ROOT, "%.1f%%", 100 * p);
  }

  /** A share as a percentage with one standard error over n images, or n/a. */
  static String shareWithSe(Double p, int n) {
    return p == null ? "n/a" : String.format(Locale.ROOT, "%.1f%% ± %.1f", 100 * p, se(p, n));
  }

  /** One standard error of a share p measured on n images, in points. */
  static double se(double p, int n) {
    return 100 * Math.sqrt(Math.max(p * (1 - p), 0) / Math.max(1, n));
  }

  /** The concepts {@code method} has points on, in order of first appearance. */
  static List<String> conceptsOf(List<Point> points, String method) {
    return points.stream()
        .filter(p -> p.method().equals(method))
        .map(Point::concept)
        .distinct()
        .toList();
  }

  /**
   * For each subset method with points: the totals over its concepts of every method that has
   * points on each of them (itself included), so that it is compared on its own ground.
   */
  static Map<String, List<Point>> subsetTotals(List<Point> points, List<String> subsetMethods) {
    Map<String, Set<String>> conceptsBy = new LinkedHashMap<>();
    for (Point p : points) {
      conceptsBy.computeIfAbsent(p.method(), k -> new LinkedHashSet<>()).add(p.concept());
    }
    Map<String, List<Point>> out = new LinkedHashMap<>();
    for (String m : subsetMethods) {
      Set<String> concepts = conceptsBy.get(m);
      if (concepts == null) {
        continue;
      }
      out.put(
          m,
          totals(
              points.stream()
                  .filter(p -> conceptsBy.get(p.method()).containsAll(concepts))
                  .filter(p -> concepts.contains(p.concept()))
                  .toList()));
    }
    return out;
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
