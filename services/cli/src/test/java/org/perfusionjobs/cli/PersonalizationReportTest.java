package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.cli.BenchCells.Point;
import org.perfusionjobs.evaluator.concepts.ConceptSuite;

/**
 * The report's text from hand-made cells: a method run on a subset of the concepts is kept out of
 * the totals and compared on its own concepts, in its own section and in the claims.
 */
class PersonalizationReportTest {

  @Test
  void aSubsetMethodIsComparedOnItsOwnConceptsOnly() {
    List<Point> points =
        List.of(
            new Point("zwx", "perfusion", "beta 0.70", 0.80, 0.1, 0.60, 0.25, 40),
            new Point("vkp", "perfusion", "beta 0.70", 0.20, 0.1, 0.40, 0.0, 40),
            new Point("zwx", "dreambooth", "default", 0.70, 0.5, 0.50, null, 40),
            new Point("zwx", "lora", "scale 1.00", 0.50, 0.5, 0.70, null, 40),
            new Point("vkp", "lora", "scale 1.00", 0.30, 0.5, 0.70, null, 40));
    List<Point> totals =
        BenchCells.totals(points.stream().filter(p -> !p.method().equals("dreambooth")).toList());
    Map<String, double[]> costs = new LinkedHashMap<>();
    costs.put("perfusion", new double[] {360, 17_000, 2});
    costs.put("lora", new double[] {400, 374_000, 2});
    costs.put("dreambooth", new double[] {2_700, 14_000_000, 1});
    String md =
        new PersonalizationReport(
                new PersonalizationReport.Run(
                    Path.of("/repo"),
                    Path.of("/repo/models/world-v2"),
                    false,
                    40,
                    400,
                    List.of("perfusion", "lora", "dreambooth"),
                    List.of("dreambooth")))
            .markdown(
                new PersonalizationReport.Results(
                    ConceptSuite.load().subList(0, 2),
                    points,
                    totals,
                    costs,
                    List.of(),
                    5,
                    1,
                    Set.of("zwx", "vkp"),
                    List.of()));
    String all = md.substring(md.indexOf("## All concepts"), md.indexOf("## The paper's claims"));
    // Totals over zwx and vkp: perfusion (0.8 + 0.2) / 2 = 50.0%, no DreamBooth row.
    assertTrue(all.contains("| perfusion | beta 0.70 | 8,500 bytes | 180 s | 50.0% ± 5.6 |"), all);
    assertFalse(all.contains("dreambooth"), all);
    // Composition (0.25 + 0) / 2 = 12.5%, over the 16 of 80 prompts that ask for it (every fifth
    // prompt of the concept set): SE sqrt(0.125 * 0.875 / 16) = 8.3 points, not 3.7 over 80.
    assertTrue(all.contains("| 12.5% ± 8.3 |"), all);
    assertTrue(md.contains("composition's is over the prompts that ask for it, 8 of the 40"), md);
    // DreamBooth's own section: every method over zwx alone (perfusion 80.0%, SE sqrt(.16/40)).
    String own = md.substring(md.indexOf("## dreambooth, on the concepts it ran on"));
    assertTrue(own.contains("dreambooth ran on zwx only"), own);
    assertTrue(own.contains("| perfusion | beta 0.70 | 8,500 bytes | 180 s | 80.0% ± 6.3 |"), own);
    assertTrue(own.contains("| dreambooth | default | 14,000,000 bytes | 2700 s | 70.0% ± 7.2 |"));
    // The claim on zwx: perfusion (80%, 60%) beats DreamBooth (70%, 50%) on both.
    assertTrue(
        md.contains(
            "- dreambooth (on zwx only): 1 of 1 of its settings are matched or beaten on both"
                + " fidelity and alignment by a beta of perfusion."),
        md);
    // Over both concepts LoRA (40%, 70%) is not beaten by perfusion (50%, 50%).
    assertTrue(
        md.contains(
            "- lora: 0 of 1 of its settings are matched or beaten on both fidelity and alignment"
                + " by a beta of perfusion."),
        md);
  }
}
