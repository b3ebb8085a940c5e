package org.perfusionjobs.cli;

import static org.perfusionjobs.cli.BenchMethods.ABLATIONS;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.perfusionjobs.engine.config.Configs;

/**
 * The personalization benchmark's cells and their arithmetic: a finished (concept, method) cell as
 * kept on disk, eval's and concept-gates' figures read from their JSON, and the totals, standard
 * errors, gate tables and ablation deltas the report prints. No I/O but the cell files.
 */
final class BenchCells {
  private BenchCells() {}

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
    List<GateTotal> out = new ArrayList<>();
    for (List<Gate> gs : groups(gates, g -> g.method() + "|" + g.beta())) {
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
      if (!ABLATIONS.containsKey(a.method()) && !BenchMethods.isVariant(a.method())) {
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
    List<Point> out = new ArrayList<>();
    for (List<Point> ps : groups(points, p -> p.method() + "|" + p.setting())) {
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

  /** {@code xs} grouped by {@code key}, groups and members in order of first appearance. */
  private static <T> Collection<List<T>> groups(List<T> xs, Function<T, String> key) {
    Map<String, List<T>> by = new LinkedHashMap<>();
    for (T x : xs) {
      by.computeIfAbsent(key.apply(x), k -> new ArrayList<>()).add(x);
    }
    return by.values();
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
}
