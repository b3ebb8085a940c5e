package org.perfusionjobs.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.perfusion.TokenGates;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion concept-gates}: per token of a prompt, s(e) and the gate of each concept, i.e.
 * which token encodings each rank-1 edit acts on. A concept that leaks into the whole image shows
 * open gates on words that are not its own or on the padding; one that never shows, closed gates
 * even on its word.
 */
@Command(
    name = "concept-gates",
    mixinStandardHelpOptions = true,
    description =
        "Print, per token of a prompt, each concept's s(e) and gate (which tokens the rank-1 edit"
            + " acts on).")
final class ConceptGatesCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, description = "base model folder")
  Path model;

  @Option(names = "--concept", required = true, description = "concept file(s)")
  List<Path> concepts = new ArrayList<>();

  @Option(names = "--prompt", description = "prompt using the concepts' words")
  String prompt;

  @Option(
      names = "--prompts-file",
      description =
          "instead of --prompt: one prompt per line; prints per prompt the gate on the concept's"
              + " word and the largest gate on any other token (start, end and padding included)")
  Path promptsFile;

  @Option(
      names = "--json",
      description =
          "with --prompts-file and one --concept: the summary as one JSON line last on stdout,"
              + " {\"beta\", \"tau\", \"prompts\": [{\"prompt\", \"concept\", \"other\","
              + " \"otherToken\"}]}")
  boolean json;

  @Option(
      names = "--beta",
      description = "inference beta for every concept (default: each concept's own)")
  Float beta;

  @Option(
      names = "--tau",
      description = "inference tau for every concept (default: each concept's own)")
  Float tau;

  @Option(
      names = "--gate-scope",
      description =
          "all (the paper's) or word (gates forced to 0 off the concept words; beyond the paper)"
              + " (default: each concept file's train.gate_scope, else all)")
  String gateScope;

  @Option(
      names = "--phrases",
      description =
          "joint (the paper's) or apart (the second concept's phrase encoded alone; beyond the"
              + " paper) (default: each concept file's train.phrase_encoding, else joint)")
  String phrases;

  @Option(
      names = "--all",
      description = "list every padding token too (default: up to the first padding token)")
  boolean all;

  @Override
  public Integer call() throws Exception {
    var out = spec.commandLine().getOut();
    List<ConceptUse> uses = new ArrayList<>();
    for (Path p : concepts) {
      uses.add(
          new ConceptUse(
              ConceptOverrides.ofGates(gateScope, phrases).apply(ConceptFile.read(p)), beta, tau));
    }
    if ((prompt == null) == (promptsFile == null)) {
      throw new IllegalArgumentException("give either --prompt or --prompts-file");
    }
    if (json && promptsFile == null) {
      throw new IllegalArgumentException("--json summarises a --prompts-file");
    }
    if (promptsFile != null) {
      return summary(uses);
    }
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu())) {
      TokenGates g = PerfusionModel.of(sd).tokenGates(prompt, uses);
      StringBuilder head = new StringBuilder(String.format("%-4s %-14s", "#", "token"));
      for (ConceptUse u : uses) {
        head.append(String.format(" %10s %10s", "s:" + u.concept().placeholder(), "gate"));
      }
      out.println(head);
      double[] padGate = new double[uses.size()];
      int pads = 0;
      for (int i = 0; i < g.tokens().size(); i++) {
        boolean pad = g.tokens().get(i).equals("<pad>");
        if (pad) {
          pads++;
          for (int j = 0; j < uses.size(); j++) {
            padGate[j] += g.gates()[i][j];
          }
        }
        if (pad && !all && i > 0 && g.tokens().get(i - 1).equals("<pad>")) {
          continue;
        }
        StringBuilder row = new StringBuilder(String.format("%-4d %-14s", i, g.tokens().get(i)));
        for (int j = 0; j < uses.size(); j++) {
          row.append(String.format(" %10.3f %10.3f", g.similarity()[i][j], g.gates()[i][j]));
        }
        out.println(row);
      }
      for (int j = 0; j < uses.size(); j++) {
        out.printf(
            "%s: beta %.2f, tau %.2f; mean gate over the %d padding tokens %.3f%n",
            uses.get(j).concept().placeholder(),
            uses.get(j).effectiveBeta(),
            uses.get(j).effectiveTau(),
            pads,
            pads == 0 ? 0 : padGate[j] / pads);
      }
    }
    return 0;
  }

  /**
   * Per prompt of the file: the gate on the concept's word against the largest on another token.
   */
  private int summary(List<ConceptUse> uses) throws java.io.IOException {
    var out = spec.commandLine().getOut();
    if (json && uses.size() != 1) {
      throw new IllegalArgumentException("--json summarises one --concept");
    }
    List<String> prompts =
        java.nio.file.Files.readAllLines(promptsFile).stream()
            .map(String::strip)
            .filter(l -> !l.isEmpty())
            .toList();
    List<Map<String, Object>> rows = new ArrayList<>();
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu())) {
      for (String p : prompts) {
        TokenGates g = PerfusionModel.of(sd).tokenGates(p, uses);
        for (int j = 0; j < uses.size(); j++) {
          GateSummary s = GateSummary.of(g, j, uses.get(j).concept().placeholder());
          if (!json) {
            out.printf(
                "%-50s %s: gate on the word %.3f, largest elsewhere %.3f (%s)%n",
                p, uses.get(j).concept().placeholder(), s.concept(), s.other(), s.otherToken());
          }
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("prompt", p);
          row.put("concept", s.concept());
          row.put("other", s.other());
          row.put("otherToken", s.otherToken());
          rows.add(row);
        }
      }
    }
    if (json) {
      Map<String, Object> all = new LinkedHashMap<>();
      all.put("beta", uses.get(0).effectiveBeta());
      all.put("tau", uses.get(0).effectiveTau());
      all.put("prompts", rows);
      out.println(Configs.json().writeValueAsString(all));
    }
    return 0;
  }

  /**
   * One prompt's gates of concept {@code j}: the largest on the concept's own word (NaN if the
   * prompt lacks it) and the largest on any other token, with that token.
   */
  record GateSummary(double concept, double other, String otherToken) {
    static GateSummary of(TokenGates g, int j, String word) {
      double concept = Double.NaN;
      double other = Double.NEGATIVE_INFINITY;
      String otherToken = "";
      for (int i = 0; i < g.tokens().size(); i++) {
        double gate = g.gates()[i][j];
        if (g.tokens().get(i).equalsIgnoreCase(word)) {
          concept = Double.isNaN(concept) ? gate : Math.max(concept, gate);
        } else if (gate > other) {
          other = gate;
          otherToken = g.tokens().get(i);
        }
      }
      return new GateSummary(concept, other, otherToken);
    }
  }
}
