package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;
import org.perfusionjobs.evaluator.concepts.SuiteConcept;
import org.perfusionjobs.evaluator.prompts.Attribute;
import org.perfusionjobs.evaluator.prompts.EvalPrompt;
import org.perfusionjobs.evaluator.prompts.PromptParser;

/** The benchmark's two-concept prompts: which pairs, which prompts, and how they are reported. */
class ConceptPairsTest {
  static final ConceptSpec STAR = ConceptSpec.parse("shape=star,colour=red,pattern=stripes");
  static final ConceptSpec HEART = ConceptSpec.parse("shape=heart,colour=blue,pattern=dots");
  static final ConceptSpec CIRCLE = ConceptSpec.parse("shape=circle,colour=green,pattern=checks");

  static List<String> names(List<SuiteConcept[]> pairs) {
    return pairs.stream().map(p -> p[0].word() + "+" + p[1].word()).toList();
  }

  @Test
  void consecutiveConceptsCloseIntoARingFromThree() {
    SuiteConcept a = new SuiteConcept("zwx", "star", STAR);
    SuiteConcept b = new SuiteConcept("vkp", "heart", HEART);
    SuiteConcept c = new SuiteConcept("qjd", "circle", CIRCLE);
    assertEquals(
        List.of("zwx+vkp", "vkp+qjd", "qjd+zwx"), names(ConceptPairs.pairs(List.of(a, b, c))));
    assertEquals(List.of("zwx+vkp"), names(ConceptPairs.pairs(List.of(a, b))));
    assertEquals(List.of(), names(ConceptPairs.pairs(List.of(a))));
  }

  @Test
  void promptsAskEveryTemplateEquallyOften() {
    Map<String, Long> counts =
        ConceptPairs.prompts(40).stream()
            .collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
    assertEquals(5, counts.size());
    counts.values().forEach(n -> assertEquals(8L, n));
  }

  /**
   * Every template, read by the evaluator's own parser, asks for the two concepts, each at its own
   * cell: so "both right" is decidable from the image.
   */
  @Test
  void everyTemplateAsksBothConceptsInDifferentCells() {
    PromptParser parser =
        new PromptParser(
            List.of(new PromptParser.Concept("zwx", STAR), new PromptParser.Concept("vkp", HEART)));
    for (String t : ConceptPairs.TEMPLATES) {
      EvalPrompt p = parser.parse(t.replace("{2}", "vkp").replace("{}", "zwx"));
      assertEquals(2, p.objects().size(), t);
      assertTrue(p.concept(), t);
      EvalPrompt.Asked first = p.objects().get(0);
      EvalPrompt.Asked second = p.objects().get(1);
      assertEquals(STAR.shape(), first.object().shape(), t);
      assertEquals(HEART.shape(), second.object().shape(), t);
      assertTrue(first.attributes().contains(Attribute.POSITION), t);
      assertTrue(second.attributes().contains(Attribute.POSITION), t);
      assertNotEquals(first.object().position(), second.object().position(), t);
    }
  }

  @Test
  void aPairCellIsReadBackOnlyUnderTheSameSettings(@TempDir Path dir) throws Exception {
    var p = new BenchCells.Point("zwx+vkp", "perfusion", "default", 1, 0, 0.5, null, 4);
    ConceptPairs.PairCell cell = new ConceptPairs.PairCell("zwx", "vkp", "perfusion", "s1", p);
    Path file = dir.resolve("pairs/zwx+vkp/perfusion.json");
    cell.write(file);
    assertEquals(cell, ConceptPairs.PairCell.read(file, "s1"));
    assertNull(ConceptPairs.PairCell.read(file, "s2"));
    assertNull(ConceptPairs.PairCell.read(dir.resolve("none.json"), "s1"));
  }

  @Test
  void theSectionTotalsPairsByTheirImages() {
    var p1 = new BenchCells.Point("zwx+vkp", "perfusion", "default", 1, 0, 0.5, 0.0, 40);
    var p2 = new BenchCells.Point("vkp+qjd", "perfusion", "default", 0, 1, 1, 1.0, 10);
    StringBuilder sb = new StringBuilder();
    ConceptPairs.section(
        sb,
        List.of(
            new ConceptPairs.PairCell("zwx", "vkp", "perfusion", "s", p1),
            new ConceptPairs.PairCell("vkp", "qjd", "perfusion", "s", p2)));
    String md = sb.toString();
    // Image-weighted over 50 images: fidelity 40/50, count 10/50, alignment (20+10)/50, both 10/50.
    assertTrue(
        md.contains(
            "| perfusion | 2 | 50 | 80.0% ± 5.7 | 20.0% ± 5.7 | 60.0% ± 6.9 | 20.0% ± 5.7 |"),
        md);
    assertTrue(md.contains("| zwx + vkp | perfusion | 100.0% | 0.0% | 50.0% | 0.0% | 40 |"), md);
  }

  /**
   * The words row: each line, read by the evaluator's parser with no concept, asks for two ordinary
   * objects with the pair's shapes and colours in different cells; the report shows no fidelity for
   * it (no word asks for a pattern).
   */
  @Test
  void theWordsRowAsksTheSameShapesAndColoursWithWords() {
    SuiteConcept a = new SuiteConcept("zwx", "star", STAR);
    SuiteConcept b = new SuiteConcept("vkp", "heart", HEART);
    List<String> lines = ConceptPairs.wordPrompts(10, a, b);
    assertEquals("a red star on the left and a blue heart on the right", lines.get(0));
    PromptParser parser = new PromptParser(List.of());
    for (String line : lines) {
      EvalPrompt p = parser.parse(line);
      assertEquals(2, p.objects().size(), line);
      assertTrue(!p.concept(), line);
      assertEquals(STAR.shape(), p.objects().get(0).object().shape(), line);
      assertEquals(STAR.colour(), p.objects().get(0).object().colour(), line);
      assertEquals(HEART.shape(), p.objects().get(1).object().shape(), line);
      assertEquals(HEART.colour(), p.objects().get(1).object().colour(), line);
      assertNotEquals(
          p.objects().get(0).object().position(), p.objects().get(1).object().position(), line);
    }
    var w = new BenchCells.Point("zwx+vkp", "words", "default", 0, 0.9, 0.8, 0.3, 40);
    StringBuilder sb = new StringBuilder();
    ConceptPairs.section(
        sb, List.of(new ConceptPairs.PairCell("zwx", "vkp", ConceptPairs.WORDS, "s", w)));
    String md = sb.toString();
    assertTrue(
        md.contains(
            "| words (base model, no pattern) | 1 | 40 | n/a | 90.0% ± 4.7 | 80.0% ± 6.3 | 30.0% ±"
                + " 7.2 |"),
        md);
    assertTrue(
        md.contains(
            "| zwx + vkp | words (base model, no pattern) | n/a | 90.0% | 80.0% | 30.0% | 40 |"),
        md);
  }
}
