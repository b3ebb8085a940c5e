package org.perfusionjobs.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.perfusionjobs.evaluator.concepts.SuiteConcept;

/**
 * The benchmark's two-concept prompts (issue 23 item 3): concepts trained apart, combined at
 * generation ("a {A} on the left and a {B} on the right"), scored with both specs. Only the
 * Perfusion family combines concepts in one prompt here (the exact Cinv projection); the pairs are
 * consecutive concepts of those every method has run on, so each concept appears in two pairs.
 */
final class ConceptPairs {
  private ConceptPairs() {}

  /**
   * Prompt templates, {@code {}} the first concept's word and {@code {2}} the second's: the two
   * placed apart in the four ways the evaluator's grid reads, one with sizes, one with a
   * background.
   */
  static final List<String> TEMPLATES =
      List.of(
          "a {} on the left and a {2} on the right",
          "a {} at the top and a {2} at the bottom",
          "a {} at the top left and a {2} at the bottom right",
          "a large {} on the left and a small {2} on the right",
          "a {} on the left and a {2} on the right on a sand background");

  /**
   * The pair row of the base model itself: the same prompts with each concept's colour and shape
   * words in place of its word ("a red star on the left and a blue heart on the right"). No word
   * names a pattern, so this is not a concept's score but the ceiling of the placements: what the
   * model does with two objects where words can ask for them.
   */
  static final String WORDS = "words";

  /**
   * The {@link #WORDS} prompts with regional cross-attention ({@link BenchMethods#REGIONS_ARGS}):
   * the ceiling of the methods that draw with regions.
   */
  static final String WORDS_REGIONS = "words-regions";

  /** Whether a pair row is a ceiling of the base model with words, not a method. */
  static boolean isWords(String method) {
    return method.equals(WORDS) || method.equals(WORDS_REGIONS);
  }

  /** The {@link #WORDS} prompt lines for a pair: {@link #prompts} with the concepts' words. */
  static List<String> wordPrompts(int n, SuiteConcept first, SuiteConcept second) {
    return prompts(n).stream()
        .map(t -> t.replace("{2}", words(second)).replace("{}", words(first)))
        .toList();
  }

  private static String words(SuiteConcept c) {
    return c.spec().colour().words().get(0) + " " + c.spec().shape().words().get(0);
  }

  /** Consecutive pairs of {@code concepts}, closed into a ring when there are three or more. */
  static List<SuiteConcept[]> pairs(List<SuiteConcept> concepts) {
    List<SuiteConcept[]> out = new ArrayList<>();
    int n = concepts.size();
    if (n < 2) {
      return out;
    }
    int count = n == 2 ? 1 : n;
    for (int i = 0; i < count; i++) {
      out.add(new SuiteConcept[] {concepts.get(i), concepts.get((i + 1) % n)});
    }
    return out;
  }

  /**
   * {@code n} prompt lines: the templates in turn, so that each is asked about n / 5 times, each
   * line with its own seed (eval's image i uses seed + i).
   */
  static List<String> prompts(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(TEMPLATES.get(i % TEMPLATES.size()));
    }
    return out;
  }

  /**
   * One finished pair cell: two concepts of one method in one prompt set, scored at each concept's
   * default beta. Kept as JSON beside the single-concept cells.
   */
  record PairCell(
      String first, String second, String method, String settings, BenchCells.Point point) {

    String pair() {
      return first + " + " + second;
    }

    void write(Path file) throws IOException {
      BenchCells.writeCell(file, this);
    }

    static PairCell read(Path file, String settings) throws IOException {
      PairCell c = BenchCells.readCell(file, PairCell.class);
      return c != null && settings.equals(c.settings()) ? c : null;
    }
  }

  static String label(String method) {
    return method.equals(WORDS)
        ? "words (base model, no pattern)"
        : method.equals(WORDS_REGIONS)
            ? "words + regions (base model, no pattern)"
            : BenchMethods.label(method);
  }

  /** The report's section: per method over all pairs, then per pair. */
  static void section(StringBuilder sb, List<PairCell> cells) {
    if (cells.isEmpty()) {
      return;
    }
    sb.append(
        "\n## Two concepts in one prompt\n\n"
            + "Each pair's two concept files, trained apart, combined at generation at their"
            + " default beta, on prompts that place them apart (");
    sb.append(String.join("; ", TEMPLATES.stream().map(t -> "\"" + t + "\"").toList()));
    sb.append(
        "), {} and {2} the two words. Fidelity: each named concept found (its shape, colour and"
            + " pattern); composition: both right, each where it was asked. The `words` row is"
            + " the base model on the same prompts with each concept's colour and shape words in"
            + " its place (no word names a pattern): the ceiling of the placements, not a"
            + " method; `words + regions` is the same with each object's phrase in its own cell"
            + " (`--regions`), the ceiling of the methods that draw with regions.\n\n"
            + "| method | pairs | images | fidelity | exact count | alignment | both right |\n"
            + "|---|---|---|---|---|---|---|\n");
    Map<String, List<PairCell>> byMethod = new LinkedHashMap<>();
    for (PairCell c : cells) {
      byMethod.computeIfAbsent(c.method(), k -> new ArrayList<>()).add(c);
    }
    byMethod.forEach(
        (m, cs) -> {
          List<BenchCells.Point> ps = cs.stream().map(PairCell::point).toList();
          BenchCells.Point t = BenchCells.totals(ps).get(0);
          sb.append(
              String.format(
                  Locale.ROOT,
                  "| %s | %d | %d | %s | %.1f%% ± %.1f | %.1f%% ± %.1f | %s |%n",
                  label(m),
                  cs.size(),
                  t.images(),
                  isWords(m) ? "n/a" : BenchCells.shareWithSe(t.fidelity(), t.images()),
                  100 * t.exactCount(),
                  BenchCells.se(t.exactCount(), t.images()),
                  100 * t.alignment(),
                  BenchCells.se(t.alignment(), t.images()),
                  BenchCells.shareWithSe(t.composition(), t.images())));
        });
    sb.append(
        "\n| pair | method | fidelity | exact count | alignment | both right | images |\n"
            + "|---|---|---|---|---|---|---|\n");
    for (PairCell c : cells) {
      BenchCells.Point p = c.point();
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %s | %.1f%% | %.1f%% | %s | %d |%n",
              c.pair(),
              label(c.method()),
              isWords(c.method()) ? "n/a" : BenchCells.share(p.fidelity()),
              100 * p.exactCount(),
              100 * p.alignment(),
              BenchCells.share(p.composition()),
              p.images()));
    }
  }
}
