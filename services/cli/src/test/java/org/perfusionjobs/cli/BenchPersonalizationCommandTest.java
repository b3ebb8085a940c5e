package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report's arithmetic: eval's JSON line read back, image-weighted totals, standard errors
 * (values worked by hand).
 */
class BenchPersonalizationCommandTest {

  @Test
  void readsOneRunAndSeveralRuns() throws Exception {
    List<BenchCells.Point> one =
        BenchCells.parse(
            "zwx",
            "textual-inversion",
            "progress line\n"
                + "{\"images\":20,\"fidelity\":0.25,\"exactCount\":0.5,\"alignment\":0.75,\"composition\":null}\n");
    assertEquals(1, one.size());
    assertEquals("default", one.get(0).setting());
    assertEquals(0.25, one.get(0).fidelity());
    assertNull(one.get(0).composition());
    List<BenchCells.Point> runs =
        BenchCells.parse(
            "zwx",
            "perfusion",
            "{\"runs\":[{\"beta\":0.5,\"images\":10,\"fidelity\":0.9,\"exactCount\":0.8,\"alignment\":0.4,\"composition\":0.3},"
                + "{\"beta\":0.7,\"images\":10,\"fidelity\":0.6,\"exactCount\":0.9,\"alignment\":0.7,\"composition\":0.5}]}");
    assertEquals(
        List.of("beta 0.50", "beta 0.70"), runs.stream().map(BenchCells.Point::setting).toList());
    assertEquals(0.5, runs.get(1).composition());
  }

  @Test
  void totalsWeighConceptsByTheirImages() {
    var a = new BenchCells.Point("zwx", "lora", "scale 1.00", 1.0, 0.5, 0.0, null, 30);
    var b = new BenchCells.Point("wqf", "lora", "scale 1.00", 0.0, 1.0, 1.0, 0.5, 10);
    List<BenchCells.Point> t = BenchCells.totals(List.of(a, b));
    assertEquals(1, t.size());
    assertEquals(0.75, t.get(0).fidelity(), 1e-12); // (30 * 1 + 10 * 0) / 40
    assertEquals(0.625, t.get(0).exactCount(), 1e-12); // (15 + 10) / 40
    assertEquals(0.25, t.get(0).alignment(), 1e-12);
    assertEquals(
        0.5, t.get(0).composition(), 1e-12); // only the concept that has composition prompts
    assertEquals(40, t.get(0).images());
  }

  /** concept-gates --json read back; per method and beta: means, the open share, the token. */
  @Test
  void gateTableAveragesPromptsPerMethodAndBeta() throws Exception {
    List<BenchCells.Gate> g =
        new java.util.ArrayList<>(
            BenchCells.parseGates(
                "zwx",
                "perfusion",
                "loading\n"
                    + "{\"beta\":0.7,\"tau\":0.15,\"prompts\":[{\"prompt\":\"a"
                    + " zwx\",\"concept\":0.9,\"other\":0.2,\"otherToken\":\"<end>\"},{\"prompt\":\"a"
                    + " zwx on the"
                    + " left\",\"concept\":0.7,\"other\":0.6,\"otherToken\":\"left\"},{\"prompt\":\"a"
                    + " small zwx\",\"concept\":0.5,\"other\":0.1,\"otherToken\":\"<end>\"}]}\n"));
    assertEquals(3, g.size());
    assertEquals(0.7f, g.get(0).beta());
    assertEquals("left", g.get(1).otherToken());
    g.add(new BenchCells.Gate("zwx", "perfusion-no-gate", 0.7f, 1, 1, "<start>"));
    var t = BenchCells.gateTotals(g);
    assertEquals(2, t.size());
    assertEquals(3, t.get(0).prompts());
    assertEquals(0.7, t.get(0).word(), 1e-12); // (0.9 + 0.7 + 0.5) / 3
    assertEquals(0.3, t.get(0).other(), 1e-12); // (0.2 + 0.6 + 0.1) / 3
    assertEquals(1.0 / 3, t.get(0).openElsewhere(), 1e-12); // only 0.6 >= 0.5
    assertEquals("<end>", t.get(0).commonToken()); // 2 of 3
    assertEquals(1.0, t.get(1).openElsewhere(), 1e-12);
    assertEquals("perfusion (no gate)", BenchMethods.label(t.get(1).method()));
    assertEquals("lora", BenchMethods.label("lora"));
  }

  /** Each ablation against Perfusion at the same beta, in points; a beta Perfusion lacks: none. */
  @Test
  void ablationDeltasAreAgainstPerfusionAtTheSameSetting() {
    var p = new BenchCells.Point("all", "perfusion", "beta 0.70", 0.6, 0.5, 0.4, null, 20);
    var a =
        new BenchCells.Point(
            "all", "perfusion-no-key-lock", "beta 0.70", 0.75, 0.25, 0.45, null, 20);
    var b = new BenchCells.Point("all", "perfusion-no-cinv", "beta 0.90", 0.1, 0.1, 0.1, null, 20);
    var l = new BenchCells.Point("all", "lora", "beta 0.70", 1, 1, 1, null, 20);
    var d = BenchCells.ablationDeltas(List.of(p, a, b, l));
    assertEquals(java.util.Set.of("perfusion-no-key-lock|beta 0.70"), d.keySet());
    double[] x = d.get("perfusion-no-key-lock|beta 0.70");
    assertEquals(15.0, x[0], 1e-9); // 100 * (0.75 - 0.6)
    assertEquals(-25.0, x[1], 1e-9);
    assertEquals(5.0, x[2], 1e-9);
  }

  @Test
  void theCaptionsVariantIsPerfusionTrainedWithPerImageCaptionsAndComparedLikeAnAblation() {
    assertTrue(BenchMethods.isPerfusion("perfusion-captions"));
    assertEquals("perfusion + captions", BenchMethods.label("perfusion-captions"));
    assertEquals(
        BenchMethods.VARIANTS.keySet(),
        BenchMethods.VARIANT_LABELS.keySet(),
        "every variant has a short label");
    var p = new BenchCells.Point("all", "perfusion", "beta 0.70", 0.9, 0.1, 0.4, null, 20);
    var v =
        new BenchCells.Point("all", "perfusion-captions", "beta 0.70", 0.75, 0.55, 0.7, null, 20);
    double[] d = BenchCells.ablationDeltas(List.of(p, v)).get("perfusion-captions|beta 0.70");
    assertEquals(-15, d[0], 1e-9);
    assertEquals(45, d[1], 1e-9);
    assertEquals(30, d[2], 1e-9);
  }

  @Test
  void totalsCompareMethodsOnlyOnConceptsEveryMethodHasRunOn() {
    var cells =
        List.of(
            cell("zwx", "perfusion"),
            cell("zwx", "lora"),
            cell("vkp", "perfusion"),
            cell("vkp", "lora"),
            cell("qjd", "perfusion"));
    assertEquals(
        java.util.Set.of("zwx", "vkp"), BenchCells.comparableConcepts(cells, java.util.Set.of()));
    assertEquals(
        java.util.Set.of("qjd"),
        BenchCells.comparableConcepts(List.of(cell("qjd", "perfusion")), java.util.Set.of()));
    var withDreamBooth = new java.util.ArrayList<>(cells);
    withDreamBooth.add(cell("zwx", "dreambooth"));
    assertEquals(
        java.util.Set.of("zwx"),
        BenchCells.comparableConcepts(withDreamBooth, java.util.Set.of()),
        "counted like any method, one DreamBooth cell would shrink the totals to its concept");
    assertEquals(
        java.util.Set.of("zwx", "vkp"),
        BenchCells.comparableConcepts(withDreamBooth, java.util.Set.of("dreambooth")));
  }

  /**
   * A method run on some concepts only is totalled, with every method that ran on each of them,
   * over those concepts alone; a method missing one of them is left out.
   */
  @Test
  void subsetMethodsAreComparedOnTheirOwnConcepts() {
    var points =
        List.of(
            point("zwx", "perfusion", 0.8, 40),
            point("vkp", "perfusion", 0.2, 40),
            point("zwx", "dreambooth", 0.9, 40),
            point("zwx", "lora", 0.5, 40),
            point("vkp", "lora", 0.1, 40),
            point("vkp", "textual-inversion", 0.3, 40));
    var t = BenchCells.subsetTotals(points, List.of("dreambooth", "unrun"));
    assertEquals(java.util.Set.of("dreambooth"), t.keySet());
    var rows = t.get("dreambooth");
    assertEquals(
        List.of("perfusion", "dreambooth", "lora"),
        rows.stream().map(BenchCells.Point::method).toList());
    assertEquals(0.8, rows.get(0).fidelity(), 1e-12); // zwx's alone, not (0.8 + 0.2) / 2
    assertEquals(40, rows.get(0).images());
    assertEquals(List.of("zwx"), BenchCells.conceptsOf(points, "dreambooth"));
  }

  private static BenchCells.Point point(
      String concept, String method, double fidelity, int images) {
    return new BenchCells.Point(concept, method, "default", fidelity, 0.5, 0.5, null, images);
  }

  private static BenchCells.Cell cell(String concept, String method) {
    return new BenchCells.Cell(concept, method, "s", 1, 1, List.of(), List.of());
  }

  /** A baseline's own train arguments are part of its cells' settings; others' are untouched. */
  @Test
  void aBaselinesOwnTrainArgumentsArePartOfItsCellSettings() {
    String s = "model=world-v2 steps=400 prompts=40 betas=0.5 scales=1";
    assertEquals(s, BenchMethods.cellSettings(s, "perfusion"));
    List<String> args = BenchMethods.BASELINE_ARGS.get("dreambooth");
    assertEquals("--lr", args.get(0));
    assertEquals(
        s + " train=--lr " + args.get(1),
        BenchMethods.cellSettings(s, "dreambooth"),
        "a DreamBooth cell run at the reference rate (plain settings) is run again");
  }

  /**
   * The default run is the paper's comparison (Perfusion, its ablations, the four baselines);
   * --with-variants adds the variants beyond the paper, trained and run-time, in report order.
   */
  @Test
  void theVariantsBeyondThePaperJoinOnlyWhenAskedFor() {
    BenchPersonalizationCommand plain = new BenchPersonalizationCommand();
    new picocli.CommandLine(plain).parseArgs();
    assertEquals(
        List.of(
            "perfusion",
            "perfusion-no-key-lock",
            "perfusion-no-gate",
            "perfusion-no-cinv",
            "textual-inversion",
            "custom-diffusion",
            "lora",
            "dreambooth"),
        plain.selectedMethods());
    assertEquals(20, plain.prompts);
    BenchPersonalizationCommand all = new BenchPersonalizationCommand();
    new picocli.CommandLine(all).parseArgs("--with-variants");
    assertEquals(BenchMethods.ALL_METHODS, all.selectedMethods());
    BenchPersonalizationCommand some = new BenchPersonalizationCommand();
    new picocli.CommandLine(some).parseArgs("--methods", "lora,perfusion", "--with-variants");
    assertEquals(
        List.of(
            "perfusion",
            "perfusion-captions",
            "perfusion-balanced",
            "perfusion-captions-balanced",
            "perfusion-layout",
            "perfusion-regions",
            "perfusion-guided",
            "perfusion-guided-2",
            "perfusion-soft-key",
            "perfusion-soft-key-regions",
            "lora"),
        some.selectedMethods());
  }

  /**
   * The softly locked key: trained with {@code --key-rate 0.1}; its run-time variant evaluates that
   * file (not the paper's) in cells, and both join the pair rows.
   */
  @Test
  void theSoftKeyVariantsTrainWithTheKeyRateAndConfineThatFile() {
    assertEquals(List.of("--key-rate", "0.1"), BenchMethods.VARIANTS.get("perfusion-soft-key"));
    BenchMethods.RuntimeVariant r = BenchMethods.RUNTIME_VARIANTS.get("perfusion-soft-key-regions");
    assertEquals("perfusion-soft-key", r.source());
    assertEquals(List.of("--regions", "0", "--confine"), r.evalArgs());
    assertTrue(BenchMethods.isPairMethod("perfusion-soft-key"));
    assertTrue(BenchMethods.isPairMethod("perfusion-soft-key-regions"));
    assertTrue(
        BenchMethods.ALL_METHODS.indexOf("perfusion-soft-key")
            < BenchMethods.ALL_METHODS.indexOf("perfusion-soft-key-regions"),
        "the file is trained before its run-time variant reads it");
    assertEquals(
        "s file=perfusion-soft-key eval=--regions 0 --confine",
        BenchMethods.cellSettings("s", "perfusion-soft-key-regions"));
  }

  /** Only --docs writes into docs/: a plain run keeps its cells and report beside its work. */
  @Test
  void onlyTheDocsRunWritesIntoDocs() {
    Path root = Path.of("/repo");
    Path model = Path.of("/repo/models/world-v2");
    BenchPersonalizationCommand plain = new BenchPersonalizationCommand();
    new picocli.CommandLine(plain).parseArgs("--work", "/w");
    assertEquals(Path.of("/w/personalization.md"), plain.reportFile(root));
    assertEquals(Path.of("/w/results"), plain.cellDir(root, model));
    BenchPersonalizationCommand docs = new BenchPersonalizationCommand();
    new picocli.CommandLine(docs).parseArgs("--work", "/w", "--docs");
    assertEquals(Path.of("/repo/docs/personalization.md"), docs.reportFile(root));
    assertEquals(Path.of("/repo/docs/personalization/world-v2"), docs.cellDir(root, model));
    BenchPersonalizationCommand given = new BenchPersonalizationCommand();
    new picocli.CommandLine(given).parseArgs("--docs", "--results", "/r", "--report", "/r/p.md");
    assertEquals(Path.of("/r/p.md"), given.reportFile(root));
    assertEquals(Path.of("/r"), given.cellDir(root, model));
    String[] both =
        CliRun.run("bench-personalization", "--docs", "--quick", "--work", "/nonexistent");
    assertEquals("2", both[0], both[1] + both[2]);
    assertTrue(
        both[2].contains("--docs: the docs report is not a --quick run; drop one of the two"),
        both[2]);
  }

  @Test
  void standardErrorOfAShare() {
    assertEquals(5.0, BenchCells.se(0.5, 100), 1e-12); // sqrt(0.25 / 100) = 0.05
    assertEquals(0.0, BenchCells.se(1.0, 10), 1e-12);
  }

  @Test
  void aFinishedCellIsReadBackOnlyUnderTheSameSettings(@TempDir Path dir) throws Exception {
    BenchCells.Cell cell =
        new BenchCells.Cell(
            "zwx",
            "perfusion",
            "model=world-v2 steps=400 prompts=60 betas=0.5,0.7 scales=0.5,1",
            187.5,
            102_400,
            List.of(
                new BenchCells.Point("zwx", "perfusion", "beta 0.50", 0.9, 0.5, 0.6, null, 60),
                new BenchCells.Point("zwx", "perfusion", "beta 0.70", 0.8, 0.6, 0.7, 0.25, 60)),
            List.of(new BenchCells.Gate("zwx", "perfusion", 0.7f, 0.91, 0.83, "on")));
    Path file = dir.resolve("zwx").resolve("perfusion.json");
    cell.write(file);
    assertEquals(cell, BenchCells.Cell.read(file, cell.settings()));
    assertNull(
        BenchCells.Cell.read(
            file, "model=world-v2 steps=200 prompts=60 betas=0.5,0.7 scales=0.5,1"),
        "a cell run with another step budget is run again");
    assertNull(BenchCells.Cell.read(dir.resolve("none.json"), cell.settings()));
    assertTrue(Files.list(file.getParent()).allMatch(f -> f.toString().endsWith(".json")));
  }
}
