package org.perfusionjobs.cli;

import static org.perfusionjobs.cli.BenchMethods.label;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.perfusionjobs.cli.BenchCells.Point;

/**
 * The benchmark's totals at a glance: each Perfusion-family method at its first, middle and last
 * beta and every baseline setting, as fidelity / exact count / alignment. The report carries it and
 * {@code docs/perfusion.md} carries the same text between two markers, rewritten by the run that
 * writes the docs report, so the method's own page cannot quote stale totals.
 */
final class ReportSummary {
  static final String BEGIN = "<!-- personalization-summary: written by bench-personalization -->";
  static final String END = "<!-- /personalization-summary -->";

  private ReportSummary() {}

  /** The block, markers included; empty when no totals. */
  static String block(List<Point> totals, Set<String> compared) {
    if (totals.isEmpty()) {
      return "";
    }
    Map<String, List<Point>> byMethod = new LinkedHashMap<>();
    for (Point t : totals) {
      byMethod.computeIfAbsent(t.method(), k -> new ArrayList<>()).add(t);
    }
    StringBuilder sb = new StringBuilder(BEGIN).append('\n');
    sb.append(
        String.format(
            Locale.ROOT,
            "Pooled over %s (%d images per setting), fidelity / exact count / alignment in %%:%n%n",
            String.join(", ", compared),
            totals.get(0).images()));
    List<String> perfusions =
        byMethod.keySet().stream()
            .filter(m -> m.equals("perfusion") || BenchMethods.isVariant(m))
            .toList();
    List<String> columns = perfusions.isEmpty() ? List.of() : betaColumns(byMethod, perfusions);
    if (!columns.isEmpty()) {
      sb.append("| method | ").append(String.join(" | ", columns)).append(" |\n|---|");
      sb.append("---|".repeat(columns.size())).append('\n');
      for (String m : perfusions) {
        sb.append("| ").append(m.equals("perfusion") ? "perfusion (the paper)" : label(m));
        for (String setting : columns) {
          sb.append(" | ")
              .append(
                  byMethod.get(m).stream()
                      .filter(p -> p.setting().equals(setting))
                      .findFirst()
                      .map(ReportSummary::fca)
                      .orElse("n/a"));
        }
        sb.append(" |\n");
      }
      sb.append('\n');
    }
    List<String> baselines =
        byMethod.keySet().stream().filter(m -> !m.startsWith("perfusion")).toList();
    if (!baselines.isEmpty()) {
      sb.append("| baseline | setting: fidelity / exact count / alignment |\n|---|---|\n");
      for (String m : baselines) {
        sb.append("| ")
            .append(m)
            .append(" | ")
            .append(
                String.join(
                    "; ", byMethod.get(m).stream().map(p -> p.setting() + ": " + fca(p)).toList()))
            .append(" |\n");
      }
      sb.append('\n');
    }
    return sb.append(END).append('\n').toString();
  }

  /** The paper's recipe's first, middle and last setting (the betas every variant shares). */
  private static List<String> betaColumns(Map<String, List<Point>> byMethod, List<String> ms) {
    List<String> settings =
        byMethod.get(ms.contains("perfusion") ? "perfusion" : ms.get(0)).stream()
            .map(Point::setting)
            .toList();
    if (settings.size() <= 3) {
      return settings;
    }
    return List.of(
        settings.get(0),
        settings.get((settings.size() - 1) / 2),
        settings.get(settings.size() - 1));
  }

  private static String fca(Point p) {
    return String.format(
        Locale.ROOT,
        "%.1f / %.1f / %.1f",
        100 * p.fidelity(),
        100 * p.exactCount(),
        100 * p.alignment());
  }

  /**
   * Replaces the block in {@code doc} (markers included) with {@code block}.
   *
   * @throws IOException when the document lacks the markers (nothing is written then)
   */
  static void splice(Path doc, String block) throws IOException {
    String text = Files.readString(doc, StandardCharsets.UTF_8);
    int[] span = span(text);
    if (span == null) {
      throw new IOException(
          doc + ": no '" + BEGIN + "' ... '" + END + "' markers; add them where the totals go");
    }
    Files.writeString(
        doc, text.substring(0, span[0]) + block + text.substring(span[1]), StandardCharsets.UTF_8);
  }

  /** The block {@code doc} holds now, markers included, or null. */
  static String current(Path doc) throws IOException {
    String text = Files.readString(doc, StandardCharsets.UTF_8);
    int[] span = span(text);
    return span == null ? null : text.substring(span[0], span[1]);
  }

  /** From the begin marker to past the end marker's line, or null. */
  private static int[] span(String text) {
    int from = text.indexOf(BEGIN);
    int to = text.indexOf(END);
    if (from < 0 || to < from) {
      return null;
    }
    int after = to + END.length();
    return new int[] {from, text.startsWith("\n", after) ? after + 1 : after};
  }
}
