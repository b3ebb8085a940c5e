package org.perfusionjobs.cli;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
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
import org.perfusionjobs.engine.personalization.BaselineConcept;
import org.perfusionjobs.engine.personalization.BaselineConceptFile;
import org.perfusionjobs.engine.personalization.Personalization;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;
import org.perfusionjobs.evaluator.Evaluator;
import org.perfusionjobs.evaluator.prompts.Attribute;
import org.perfusionjobs.evaluator.prompts.EvalPrompt;
import org.perfusionjobs.evaluator.prompts.PromptRun;
import org.perfusionjobs.evaluator.prompts.ObjectCountBreakdown;
import org.perfusionjobs.evaluator.prompts.ShapeBreakdown;
import org.perfusionjobs.evaluator.prompts.PromptSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion eval}: generate an image per prompt and report, per attribute, how often the
 * evaluator confirms what the prompt asked for; with {@code --concept}, concept fidelity and text
 * alignment for each beta asked.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Generate one image per prompt of a seeded prompt set and report, per attribute, the share the evaluator confirms."
        + " With --concept: concept prompts, fidelity (the concept found) and alignment (everything else asked), for each --beta.")
final class EvalCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, description = "base model folder (e.g. models/world-v1)")
  Path model;

  @Option(names = "--evaluator", description = "evaluator folder (default: <model>/evaluator)")
  Path evaluator;

  @Option(names = "--prompts", defaultValue = "200", description = "prompts in the set (default: ${DEFAULT-VALUE})")
  int prompts;

  @Option(names = "--prompt-seed", defaultValue = "2026", description = "seed of the prompt set (default: ${DEFAULT-VALUE})")
  long promptSeed;

  @Option(names = "--seed", defaultValue = "0", description = "noise seed of the first image; image i uses seed + i (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--steps", defaultValue = "20", description = "sampling steps (default: ${DEFAULT-VALUE})")
  int steps;

  @Option(names = "--guidance", defaultValue = "5", description = "classifier-free guidance scale (default: ${DEFAULT-VALUE})")
  float guidance;

  @Option(names = "--sampler", defaultValue = "ddim", description = "ddim, euler_a or dpmpp_2m (default: ${DEFAULT-VALUE})")
  String sampler;

  @Option(names = "--concept", description = "concept file of any method (its metadata says which; LoRA: FILE[:scale]): score the concept prompt set with it")
  Path concept;

  @Option(names = "--concept-word", description = "the word the concept prompts use (default: the concept's placeholder);"
      + " without --concept, e.g. 'star', measures what the base model draws from words alone")
  String conceptWord;

  @Option(names = "--beta", split = ",", description = "inference beta(s) of the concept, e.g. 0.5,0.6,0.7 (default: the concept's own)")
  List<Float> betas = new ArrayList<>();

  @Option(names = "--tau", description = "inference tau of the concept (default: the concept's own)")
  Float tau;

  @Option(names = "--global-lock", description = "with --concept: global key-locking (the K path reads the prompt with the superclass word)")
  boolean globalLock;

  @Option(names = "--out", description = "folder for report.json and a grid of the first 64 images per run")
  Path out;

  @Override
  public Integer call() throws Exception {
    var err = spec.commandLine().getErr();
    var stdout = spec.commandLine().getOut();
    Path evalDir = evaluator != null ? evaluator : model.resolve("evaluator");
    if (globalLock && concept == null) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--global-lock needs --concept: it locks a concept's keys");
    }
    Personalization.Spec conceptSpec = concept == null ? null : Personalization.Spec.parse(concept.toString());
    String method = conceptSpec == null ? null : Personalization.methodOf(conceptSpec.file());
    boolean baseline = method != null && !method.equals(Personalization.PERFUSION);
    if (baseline && (globalLock || !betas.isEmpty() || tau != null)) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--beta, --tau and --global-lock are Perfusion's; " + conceptSpec.file() + " is a " + method + " concept");
    }
    if (!baseline && conceptSpec != null && conceptSpec.a() != null) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--concept: give a Perfusion concept's beta and tau with --beta and --tau");
    }
    Concept c = conceptSpec == null || baseline ? null : ConceptFile.read(conceptSpec.file());
    BaselineConcept bc = baseline ? BaselineConceptFile.read(conceptSpec.file()) : null;
    String word = conceptWord != null ? conceptWord : c != null ? c.placeholder() : bc != null ? bc.placeholder() : null;
    List<EvalPrompt> set = word == null ? PromptSet.base(promptSeed, prompts) : PromptSet.concept(word, promptSeed, prompts);
    List<Float> runs = c == null || betas.isEmpty() ? java.util.Collections.singletonList(null) : betas;
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("model", model.toString());
    report.put("prompt_set", word == null ? "base" : "concept '" + word + "'");
    report.put("prompts", prompts);
    report.put("prompt_seed", promptSeed);
    report.put("seed", seed);
    report.put("steps", steps);
    report.put("guidance", guidance);
    report.put("sampler", sampler);
    if (method != null) {
      report.put("method", method);
    }
    if (c != null) {
      report.put("key_locking", globalLock ? "global" : "local");
    }
    List<Map<String, Object>> results = new ArrayList<>();
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu()); Evaluator ev = Evaluator.load(evalDir)) {
      for (Float beta : runs) {
        List<ConceptUse> uses = c == null ? List.of() : List.of(new ConceptUse(c, beta, tau));
        ProgressBar bar = new ProgressBar(err, beta == null ? "eval" : "eval beta " + beta);
        long t0 = System.nanoTime();
        PromptRun.Settings settings = new PromptRun.Settings(steps, guidance, SamplerKind.fromName(sampler), seed, uses, globalLock);
        PromptRun.Result r = PromptRun.run(sd, ev, set, settings,
            bc != null ? Personalization.conditioner(bc, conceptSpec.a(), conceptSpec.b()) : org.perfusionjobs.engine.perfusion.PerfusionModel.of(sd).conditioner(uses, globalLock),
            done -> {
              java.time.Duration elapsed = java.time.Duration.ofNanos(System.nanoTime() - t0);
              bar.update(done, set.size(), elapsed, elapsed.multipliedBy(set.size() - done).dividedBy(done), null);
            });
        String label = beta == null ? "" : String.format("beta %.2f: ", beta);
        stdout.printf("%s%s%n", label, r.report().summary());
        ShapeBreakdown shapes = ShapeBreakdown.of(set, r.scores());
        if (!shapes.counts().isEmpty()) {
          stdout.printf("%sshape right per asked shape (one-object prompts): %s%n", label, shapes.summary());
        }
        ObjectCountBreakdown byCount = ObjectCountBreakdown.of(set, r.found(), r.scores());
        byCount.summary().lines().forEach(line -> stdout.printf("%s%s%n", label, line));
        stdout.printf("%s%.2f s per image (%d steps, CFG %.1f)%n", label, r.secondsPerImage(), steps, guidance);
        Map<String, Object> one = new LinkedHashMap<>();
        if (beta != null) {
          one.put("beta", beta);
        }
        one.putAll(r.report().toMap());
        one.put("one_object_shapes", shapes.toMap());
        one.put("by_object_count", byCount.toMap());
        if (r.report().counts().containsKey(Attribute.CONCEPT)) {
          one.put("fidelity", r.report().rate(Attribute.CONCEPT));
        }
        one.put("seconds_per_image", r.secondsPerImage());
        results.add(one);
        if (out != null) {
          Files.createDirectories(out);
          ImageCodec.writePng(grid(r.images(), 8, 8), out.resolve(beta == null ? "grid.png" : String.format("grid-beta-%.2f.png", beta)));
          List<Map<String, Object>> perPrompt = new ArrayList<>();
          for (int i = 0; i < set.size(); i++) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("prompt", set.get(i).text());
            p.put("found", r.found().get(i).toString());
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
      Files.writeString(out.resolve("report.json"), Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(report));
      err.printf("report -> %s%n", out.resolve("report.json"));
    }
    return 0;
  }

  /** The first rows x cols images side by side, row-major. */
  static BufferedImage grid(List<BufferedImage> images, int cols, int rows) {
    int n = Math.min(images.size(), cols * rows);
    int w = images.get(0).getWidth();
    int h = images.get(0).getHeight();
    int usedRows = (n + cols - 1) / cols;
    BufferedImage g = new BufferedImage(w * Math.min(cols, n), h * usedRows, BufferedImage.TYPE_INT_RGB);
    Graphics2D gr = g.createGraphics();
    for (int i = 0; i < n; i++) {
      gr.drawImage(images.get(i), (i % cols) * w, (i / cols) * h, null);
    }
    gr.dispose();
    return g;
  }
}
