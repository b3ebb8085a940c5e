package org.perfusionjobs.cli;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.GateScope;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.personalization.BaselineConcept;
import org.perfusionjobs.engine.personalization.BaselineConceptFile;
import org.perfusionjobs.engine.personalization.ConceptGuidance;
import org.perfusionjobs.engine.personalization.Personalization;
import org.perfusionjobs.engine.pipeline.Conditioner;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.RegionalConditioner;
import org.perfusionjobs.engine.pipeline.RegionalConditioner.RegionPrompt;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;
import org.perfusionjobs.evaluator.Evaluator;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;
import org.perfusionjobs.evaluator.concepts.ConceptSuite;
import org.perfusionjobs.evaluator.concepts.SuiteConcept;
import org.perfusionjobs.evaluator.prompts.Attribute;
import org.perfusionjobs.evaluator.prompts.ConceptMetrics;
import org.perfusionjobs.evaluator.prompts.EvalPrompt;
import org.perfusionjobs.evaluator.prompts.ObjectCountBreakdown;
import org.perfusionjobs.evaluator.prompts.PromptParser;
import org.perfusionjobs.evaluator.prompts.PromptRun;
import org.perfusionjobs.evaluator.prompts.PromptSet;
import org.perfusionjobs.evaluator.prompts.PromptsFile;
import org.perfusionjobs.evaluator.prompts.RegionPrompts;
import org.perfusionjobs.evaluator.prompts.ShapeBreakdown;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion eval}: generate an image per prompt and report, per attribute, how often the
 * evaluator confirms what the prompt asked for; with {@code --concept}, concept fidelity and text
 * alignment for each beta (Perfusion) or scale (LoRA) asked.
 */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description =
        "Generate one image per prompt of a seeded prompt set and report, per attribute, the share"
            + " the evaluator confirms. With --concept: concept prompts, fidelity (the concept"
            + " found) and alignment (everything else asked), for each --beta (Perfusion) or"
            + " --scale (LoRA).")
final class EvalCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      required = true,
      description = "base model folder (e.g. models/world-v1)")
  Path model;

  @Option(names = "--evaluator", description = "evaluator folder (default: <model>/evaluator)")
  Path evaluator;

  @Option(
      names = "--prompts",
      defaultValue = "200",
      description = "prompts in the set (default: ${DEFAULT-VALUE})")
  int prompts;

  @Option(
      names = "--prompt-seed",
      defaultValue = "2026",
      description = "seed of the prompt set (default: ${DEFAULT-VALUE})")
  long promptSeed;

  @Option(
      names = "--seed",
      defaultValue = "0",
      description =
          "noise seed of the first image; image i uses seed + i (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(
      names = "--steps",
      defaultValue = "20",
      description = "sampling steps (default: ${DEFAULT-VALUE})")
  int steps;

  @Option(
      names = "--guidance",
      defaultValue = "5",
      description = "classifier-free guidance scale (default: ${DEFAULT-VALUE})")
  float guidance;

  @Option(
      names = "--concept-guidance",
      description =
          "guidance through the superclass prompt: --guidance toward the prompt with each concept"
              + " word replaced by its superclass, this scale from there to the prompt; below"
              + " --guidance the asked layout (count, size, position) weighs more than the"
              + " concept's look; any method; with --regions each region is guided through its own"
              + " text's superclass prompt (beyond the paper) (default: off, plain guidance)")
  Float conceptGuidance;

  @Option(
      names = "--images-per-call",
      defaultValue = "" + PromptRun.DEFAULT_IMAGES_PER_CALL,
      description =
          "prompts that share one UNet call, each with its own seed and noise; 1: one image at a"
              + " time (default: ${DEFAULT-VALUE})")
  int imagesPerCall;

  @Option(
      names = "--sampler",
      defaultValue = "ddim",
      description = "ddim, euler_a or dpmpp_2m (default: ${DEFAULT-VALUE})")
  String sampler;

  @Option(
      names = "--concept",
      description =
          "concept file of any method (its metadata says which): score the concept prompt set with"
              + " it; Perfusion only: repeat for a second concept ({2} in --prompts-file)")
  List<Path> concepts = new ArrayList<>();

  @Option(
      names = "--expect",
      description =
          "what the concept looks like, one per --concept in order, e.g."
              + " shape=heart,colour=blue,pattern=dots; pattern=any scores shape and colour"
              + " alone, for the base model asked with --concept-word \"red circle\" (default:"
              + " the suite concept of the same word, else the demo's red striped star)")
  List<String> expects = new ArrayList<>();

  @Option(
      names = "--prompts-file",
      description =
          "one prompt per line in the world's caption language, {} for the concept's word ({2}: the"
              + " second's); blank lines and # comments skipped (default: the built-in prompt"
              + " sets)")
  Path promptsFile;

  @Option(
      names = "--json",
      description =
          "print {\"images\", \"fidelity\", \"exactCount\", \"alignment\", \"composition\"} as one"
              + " JSON line last on stdout (several betas or scales: {\"runs\": [...]}, each with"
              + " its \"beta\" or \"scale\")")
  boolean json;

  @Option(
      names = "--concept-word",
      description =
          "the word the concept prompts use (default: the concept's placeholder); without"
              + " --concept, e.g. 'star', measures what the base model draws from words alone")
  String conceptWord;

  @Option(
      names = "--beta",
      split = ",",
      description =
          "inference beta(s) of the concept, e.g. 0.5,0.6,0.7 (default: the concept's own)")
  List<Float> betas = new ArrayList<>();

  @Option(
      names = "--scale",
      split = ",",
      description = "lora concept: strength(s) of its low-rank terms, e.g. 0.25,0.5,1 (default: 1)")
  List<Float> scales = new ArrayList<>();

  @Option(
      names = "--tau",
      description = "inference tau of the concept (default: the concept's own)")
  Float tau;

  @Option(
      names = "--global-lock",
      description =
          "with --concept: global key-locking (the K path reads the prompt with the superclass"
              + " word)")
  boolean globalLock;

  @Option(
      names = "--gate-scope",
      description =
          "Perfusion: all (the paper's: every token gated by its similarity to i*) or word (gate"
              + " forced to 0 off the concept word's tokens; beyond the paper) (default: the"
              + " concept file's train.gate_scope, else all)")
  String gateScope;

  @Option(
      names = "--phrases",
      description =
          "Perfusion, two concepts: joint (the paper's: one pass of the text encoder) or apart (the"
              + " second concept's phrase encoded alone and spliced in, so it never sees the first;"
              + " beyond the paper) (default: the concept files' train.phrase_encoding, else"
              + " joint)")
  String phrases;

  @Option(
      names = "--superclass-layout",
      description =
          "Perfusion: the share of the denoising steps drawn from the prompt with the concept word"
              + " replaced by its superclass, unedited, before the concept's edit takes over, in"
              + " [0, 1); 0 is the paper's (beyond the paper) (default: the concept files'"
              + " train.superclass_layout, else 0)")
  String superclassLayout;

  @Option(
      names = "--regions",
      description =
          "regional cross-attention for two-object prompts with a position per object: each"
              + " object's cell, grown by this fraction of the image on each side (in [0, 1/3)),"
              + " attends to the object's own phrase (concept word included) and the rest of the"
              + " image to the prompt; any method (beyond the paper) (default: off)")
  Double regions;

  @Option(
      names = "--confine",
      description =
          "with --regions, Perfusion: outside the objects' regions the plain model sees the prompt"
              + " with each concept word replaced by its superclass, so the edit acts only in its"
              + " box (beyond the paper)")
  boolean confine;

  @Option(
      names = "--out",
      description = "folder for report.json and a grid of the first 64 images per run")
  Path out;

  @Override
  public Integer call() throws Exception {
    var err = spec.commandLine().getErr();
    var stdout = spec.commandLine().getOut();
    Path evalDir = evaluator != null ? evaluator : model.resolve("evaluator");
    if (regions != null && !(regions >= 0 && regions < 1.0 / 3)) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--regions " + regions + ": the margin must be in [0, 1/3) of the image, e.g. 0.05");
    }
    if (conceptGuidance != null && (concepts.isEmpty() || guidance <= 1)) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--concept-guidance needs --concept and --guidance above 1; give them or drop it");
    }
    if (confine && regions == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--confine needs --regions: it confines the edit to the regions");
    }
    if (imagesPerCall < 1) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--images-per-call must be at least 1 (1: one image at a time), got " + imagesPerCall);
    }
    if (globalLock && concepts.isEmpty()) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--global-lock needs --concept: it locks a concept's keys");
    }
    String method = concepts.isEmpty() ? null : Personalization.methodOf(concepts.get(0));
    boolean baseline = method != null && !method.equals(Personalization.PERFUSION);
    if (baseline
        && (concepts.size() > 1
            || globalLock
            || !betas.isEmpty()
            || tau != null
            || gateScope != null
            || phrases != null
            || confine
            || superclassLayout != null)) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(),
          "--beta, --tau, --global-lock, --gate-scope, --phrases, --superclass-layout, --confine"
              + " and a second --concept are Perfusion's; "
              + concepts.get(0)
              + " is a "
              + method
              + " concept");
    }
    if (!scales.isEmpty() && !Personalization.takesScale(method)) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(),
          "--scale is LoRA's; "
              + (method == null
                  ? "give a LoRA concept with --concept"
                  : concepts.get(0) + " is a " + method + " concept"));
    }
    if (expects.size() > Math.max(1, concepts.size())) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--expect: "
              + expects.size()
              + " given for "
              + concepts.size()
              + " --concept; give one per concept, in the same order");
    }
    BaselineConcept bc = baseline ? BaselineConceptFile.read(concepts.get(0)) : null;
    List<Concept> loaded = new ArrayList<>();
    if (!baseline) {
      for (Path p : concepts) {
        loaded.add(
            new ConceptOverrides(gateScope, phrases, superclassLayout).apply(ConceptFile.read(p)));
      }
    }
    Concept c = loaded.isEmpty() ? null : loaded.get(0);
    String word =
        conceptWord != null
            ? conceptWord
            : c != null ? c.placeholder() : bc != null ? bc.placeholder() : null;
    List<PromptParser.Concept> named = new ArrayList<>();
    for (int k = 0; k < Math.max(loaded.size(), word == null ? 0 : 1); k++) {
      String w = k == 0 ? word : loaded.get(k).placeholder();
      named.add(new PromptParser.Concept(w, expected(k, w)));
    }
    List<EvalPrompt> set =
        promptsFile != null
            ? PromptsFile.read(promptsFile, new PromptParser(named))
            : word == null
                ? PromptSet.base(promptSeed, prompts)
                : PromptSet.concept(word, named.get(0).spec(), promptSeed, prompts);
    // One run per beta (Perfusion) or per scale (LoRA); null: the concept's own.
    String runKey = bc != null ? "scale" : "beta";
    List<Float> runs =
        c != null && !betas.isEmpty()
            ? betas
            : bc != null && !scales.isEmpty() ? scales : java.util.Collections.singletonList(null);
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("model", model.toString());
    report.put(
        "prompt_set",
        promptsFile != null
            ? promptsFile.toString()
            : word == null ? "base" : "concept '" + word + "'");
    report.put("prompts", set.size());
    if (!named.isEmpty()) {
      report.put("expect", named.stream().map(n -> n.word() + ": " + n.spec().text()).toList());
    }
    if (regions != null) {
      report.put("regions", regions);
    }
    report.put("prompt_seed", promptSeed);
    report.put("seed", seed);
    report.put("steps", steps);
    report.put("guidance", guidance);
    if (conceptGuidance != null) {
      report.put("concept_guidance", conceptGuidance);
    }
    report.put("sampler", sampler);
    if (method != null) {
      report.put("method", method);
    }
    if (c != null) {
      report.put("key_locking", globalLock ? "global" : "local");
      if (c.ablation() != org.perfusionjobs.engine.perfusion.PerfusionAblation.NONE) {
        report.put("ablation", c.ablation().word()); // applied by the concept's edit
      }
      report.put("gate_scope", GateScope.of(c).id());
    }
    List<Map<String, Object>> results = new ArrayList<>();
    List<Map<String, Object>> figures = new ArrayList<>();
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu());
        Evaluator ev = Evaluator.load(evalDir)) {
      for (Float value : runs) {
        Float beta = bc == null ? value : null;
        List<ConceptUse> uses = loaded.stream().map(x -> new ConceptUse(x, beta, tau)).toList();
        ProgressBar bar =
            new ProgressBar(err, value == null ? "eval" : "eval " + runKey + " " + value);
        long t0 = System.nanoTime();
        PromptRun.Settings settings =
            new PromptRun.Settings(
                steps,
                guidance,
                SamplerKind.fromName(sampler),
                seed,
                uses,
                globalLock,
                imagesPerCall,
                guidanceThroughSuperclass(loaded, bc));
        PerfusionModel perfusion = PerfusionModel.of(sd);
        PromptRun.Result r =
            PromptRun.run(
                sd,
                ev,
                set,
                settings,
                regional(
                    bc != null
                        ? Personalization.conditioner(bc, value)
                        : perfusion.conditioner(uses, globalLock),
                    perfusion.superclassConditioner(uses),
                    settings.conceptGuidance()),
                done -> {
                  Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
                  bar.update(
                      done,
                      set.size(),
                      elapsed,
                      elapsed.multipliedBy(set.size() - done).dividedBy(done),
                      null);
                });
        String label = value == null ? "" : String.format("%s %.2f: ", runKey, value);
        stdout.printf("%s%s%n", label, r.report().summary());
        ShapeBreakdown shapes = ShapeBreakdown.of(set, r.scores());
        if (!shapes.counts().isEmpty()) {
          stdout.printf(
              "%sshape right per asked shape (one-object prompts): %s%n", label, shapes.summary());
        }
        ObjectCountBreakdown byCount = ObjectCountBreakdown.of(set, r.found(), r.scores());
        byCount.summary().lines().forEach(line -> stdout.printf("%s%s%n", label, line));
        ConceptMetrics metrics = ConceptMetrics.of(set, r.found(), r.scores());
        stdout.printf("%s%s%n", label, metrics.summary());
        stdout.printf(
            "%s%.2f s per image (%d steps, CFG %.1f)%n",
            label, r.secondsPerImage(), steps, guidance);
        Map<String, Object> fig = new LinkedHashMap<>();
        if (value != null) {
          fig.put(runKey, value);
        }
        fig.putAll(metrics.toMap());
        figures.add(fig);
        Map<String, Object> one = new LinkedHashMap<>();
        if (value != null) {
          one.put(runKey, value);
        }
        one.putAll(r.report().toMap());
        one.put("one_object_shapes", shapes.toMap());
        one.put("by_object_count", byCount.toMap());
        if (r.report().counts().containsKey(Attribute.CONCEPT)) {
          one.put("fidelity", r.report().rate(Attribute.CONCEPT));
        }
        one.put("seconds_per_image", r.secondsPerImage());
        one.put("figures", metrics.toMap());
        results.add(one);
        if (out != null) {
          Files.createDirectories(out);
          ImageCodec.writePng(
              grid(r.images(), 8, 8),
              out.resolve(
                  value == null ? "grid.png" : String.format("grid-%s-%.2f.png", runKey, value)));
          List<Map<String, Object>> perPrompt = new ArrayList<>();
          for (int i = 0; i < set.size(); i++) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("prompt", set.get(i).text());
            if (!r.drawn().get(i).equals(set.get(i).text())) {
              p.put("drawn", r.drawn().get(i)); // e.g. an unplaced object named in its cell
            }
            p.put("found", r.found().get(i).toString());
            p.put("count", r.found().get(i).count());
            Map<String, String> sc = new LinkedHashMap<>();
            r.scores().get(i).counts().forEach((a, v) -> sc.put(a.label(), v[0] + "/" + v[1]));
            p.put("score", sc);
            perPrompt.add(p);
          }
          one.put("per_prompt", perPrompt);
        }
      }
    }
    report.put("results", results);
    if (out != null) {
      Files.writeString(
          out.resolve("report.json"),
          Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(report));
      err.printf("report -> %s%n", out.resolve("report.json"));
    }
    if (json) {
      Object line =
          figures.size() == 1
              ? figures.get(0)
              : Map.of("runs", figures); // one run: its figures (and its beta if one was given)
      stdout.println(Configs.json().writeValueAsString(line));
    }
    return 0;
  }

  /**
   * The spec of concept {@code k}: its --expect, else the suite concept of its word, else the
   * demo's (what eval always assumed).
   */
  private ConceptSpec expected(int k, String word) {
    if (k < expects.size()) {
      try {
        return ConceptSpec.parse(expects.get(k));
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--expect " + e.getMessage());
      }
    }
    if (k > 0) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--expect: concept "
              + (k + 1)
              + " ('"
              + word
              + "') needs its own --expect, e.g. --expect shape=heart,colour=blue,pattern=dots");
    }
    return ConceptSuite.byWord(word)
        .map(SuiteConcept::spec)
        .orElse(
            new ConceptSpec(
                PromptSet.DEMO_CONCEPT.shape(),
                PromptSet.DEMO_CONCEPT.colour(),
                PromptSet.DEMO_CONCEPT.pattern()));
  }

  /** The first rows x cols images side by side, row-major. */
  static BufferedImage grid(List<BufferedImage> images, int cols, int rows) {
    int n = Math.min(images.size(), cols * rows);
    int w = images.get(0).getWidth();
    int h = images.get(0).getHeight();
    int usedRows = (n + cols - 1) / cols;
    BufferedImage g =
        new BufferedImage(w * Math.min(cols, n), h * usedRows, BufferedImage.TYPE_INT_RGB);
    Graphics2D gr = g.createGraphics();
    for (int i = 0; i < n; i++) {
      gr.drawImage(images.get(i), (i % cols) * w, (i / cols) * h, null);
    }
    gr.dispose();
    return g;
  }

  /**
   * How each prompt is drawn: with {@code method}'s conditioner, and with --regions inside each
   * object's region of the prompt's layout (each region anchored on its own text's superclass
   * prompt with --concept-guidance), the rest of the image seeing the layout's text through {@code
   * outside} with --confine, else through {@code method}.
   */
  private java.util.function.Function<EvalPrompt, PromptRun.Drawing> regional(
      Conditioner method, Conditioner outside, ConceptGuidance cg) {
    if (regions == null) {
      return p -> new PromptRun.Drawing(p.text(), method);
    }
    return p -> {
      RegionPrompts.Layout layout = RegionPrompts.layout(p, regions);
      List<RegionPrompt> boxes = cg.anchored(layout.regions());
      return new PromptRun.Drawing(
          layout.prompt(),
          confine
              ? RegionalConditioner.confined(method, boxes, outside)
              : RegionalConditioner.of(method, boxes));
    };
  }

  /** The --concept-guidance of this run: each concept's word and superclass, or off. */
  private ConceptGuidance guidanceThroughSuperclass(List<Concept> perfusion, BaselineConcept bc) {
    if (conceptGuidance == null) {
      return ConceptGuidance.OFF;
    }
    Map<String, String> superclassOf = new LinkedHashMap<>();
    perfusion.forEach(c -> superclassOf.put(c.placeholder(), c.superclass()));
    if (bc != null) {
      superclassOf.put(bc.placeholder(), bc.superclass());
    }
    return new ConceptGuidance(superclassOf, conceptGuidance);
  }
}
