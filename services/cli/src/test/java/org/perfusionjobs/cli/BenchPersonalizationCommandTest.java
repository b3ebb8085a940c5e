package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The report's arithmetic: eval's JSON line read back, image-weighted totals, standard errors
 * (values worked by hand).
 */
class BenchPersonalizationCommandTest {

  @Test
  void readsOneRunAndSeveralRuns() throws Exception {
    List<BenchPersonalizationCommand.Point> one =
        BenchPersonalizationCommand.parse(
            "zwx",
            "textual-inversion",
            "progress line\n"
                + "{\"images\":20,\"fidelity\":0.25,\"exactCount\":0.5,\"alignment\":0.75,\"composition\":null}\n");
    assertEquals(1, one.size());
    assertEquals("default", one.get(0).setting());
    assertEquals(0.25, one.get(0).fidelity());
    assertNull(one.get(0).composition());
    List<BenchPersonalizationCommand.Point> runs =
        BenchPersonalizationCommand.parse(
            "zwx",
            "perfusion",
            "{\"runs\":[{\"beta\":0.5,\"images\":10,\"fidelity\":0.9,\"exactCount\":0.8,\"alignment\":0.4,\"composition\":0.3},"
                + "{\"beta\":0.7,\"images\":10,\"fidelity\":0.6,\"exactCount\":0.9,\"alignment\":0.7,\"composition\":0.5}]}");
    assertEquals(
        List.of("beta 0.50", "beta 0.70"),
        runs.stream().map(BenchPersonalizationCommand.Point::setting).toList());
    assertEquals(0.5, runs.get(1).composition());
  }

  @Test
  void totalsWeighConceptsByTheirImages() {
    var a =
        new BenchPersonalizationCommand.Point("zwx", "lora", "scale 1.00", 1.0, 0.5, 0.0, null, 30);
    var b =
        new BenchPersonalizationCommand.Point("wqf", "lora", "scale 1.00", 0.0, 1.0, 1.0, 0.5, 10);
    List<BenchPersonalizationCommand.Point> t = BenchPersonalizationCommand.totals(List.of(a, b));
    assertEquals(1, t.size());
    assertEquals(0.75, t.get(0).fidelity(), 1e-12); // (30 * 1 + 10 * 0) / 40
    assertEquals(0.625, t.get(0).exactCount(), 1e-12); // (15 + 10) / 40
    assertEquals(0.25, t.get(0).alignment(), 1e-12);
    assertEquals(
        0.5, t.get(0).composition(), 1e-12); // only the concept that has composition prompts
    assertEquals(40, t.get(0).images());
  }

  @Test
  void standardErrorOfAShare() {
    assertEquals(5.0, BenchPersonalizationCommand.se(0.5, 100), 1e-12); // sqrt(0.25 / 100) = 0.05
    assertEquals(0.0, BenchPersonalizationCommand.se(1.0, 10), 1e-12);
  }
}
