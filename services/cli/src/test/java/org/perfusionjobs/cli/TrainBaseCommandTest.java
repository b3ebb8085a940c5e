package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.basemodel.BaseModelBuilder;
import org.perfusionjobs.world.Pattern;
import picocli.CommandLine;

/**
 * train-base is a thin adapter: no option is the bundled model's recipe, {@code --recipe} names an
 * older one, and each option reaches the setting it names.
 */
class TrainBaseCommandTest {
  static final Path REPO =
      Path.of(System.getProperty("perfusion.models", "../../models")).toAbsolutePath().getParent();

  static TrainBaseCommand command(String... args) {
    TrainBaseCommand cmd = new TrainBaseCommand();
    new CommandLine(cmd).parseArgs(args);
    return cmd;
  }

  static BaseModelBuilder.Settings parse(String... args) {
    return command(args).settings();
  }

  /**
   * The command that built world-v2, as its model card's log records it on its first line: {@code #
   * scripts/perfusion train-base --out X --init-from models/world-v1 ... (launched ...)}.
   */
  static List<String> worldV2Command() throws IOException {
    String first =
        Files.readAllLines(
                REPO.resolve("models/world-v2/logs/train-base.log"), StandardCharsets.UTF_8)
            .get(0);
    String args = first.substring(first.indexOf("train-base") + "train-base".length());
    args = args.substring(0, args.indexOf('(')).strip();
    return new ArrayList<>(Arrays.asList(args.split("\\s+")));
  }

  @Test
  void noOptionIsWhatBuiltTheBundledModel() throws IOException {
    List<String> logged = worldV2Command();
    int out = logged.indexOf("--out");
    logged.set(out + 1, "x");
    int init = logged.indexOf("--init-from");
    assertEquals("models/world-v1", logged.get(init + 1));
    // The logged options on top of world-v1's recipe are world-v2's recipe, which no option gives.
    List<String> onV1 = new ArrayList<>(logged);
    onV1.addAll(List.of("--recipe", "world-v1"));
    TrainBaseCommand none = command("--out", "x");
    assertEquals(parse(onV1.toArray(String[]::new)), none.settings());
    assertEquals(REPO.resolve("models/world-v1"), none.initFrom(REPO));
  }

  @Test
  void worldV1IsRevision7FromScratch() {
    TrainBaseCommand v1 = command("--out", "x", "--recipe", "world-v1");
    assertEquals(BaseModelBuilder.Settings.defaults(), v1.settings());
    assertNull(v1.initFrom(REPO));
    assertEquals(List.of(Pattern.STRIPES), v1.settings().data().patterns());
  }

  @Test
  void initFromNoneTrainsFromRandomWeights() {
    assertNull(command("--out", "x", "--init-from", "none").initFrom(REPO));
    assertEquals(
        Path.of("elsewhere"), command("--out", "x", "--init-from", "elsewhere").initFrom(REPO));
  }

  @Test
  void aMissingStartingFolderIsOneLineBeforeAnyTraining(@TempDir Path dir) {
    StringWriter err = new StringWriter();
    CommandLine cli = new CommandLine(new TrainBaseCommand()).setErr(new PrintWriter(err));
    int rc =
        cli.execute(
            "--out", dir.resolve("m").toString(), "--init-from", dir.resolve("nowhere").toString());
    assertEquals(2, rc);
    String first = err.toString().lines().findFirst().orElseThrow();
    assertTrue(first.contains("--init-from") && first.contains("none"), first);
    assertTrue(!Files.exists(dir.resolve("m")), "nothing written");
  }

  @Test
  void anUnknownRecipeIsOneLineNamingTheKnownOnes() {
    CommandLine.ParameterException e =
        assertThrows(
            CommandLine.ParameterException.class,
            () -> parse("--out", "x", "--recipe", "world-v9"));
    assertTrue(e.getMessage().startsWith("--recipe: unknown recipe 'world-v9'"), e.getMessage());
    assertTrue(e.getMessage().contains("world-v1, world-v2"), e.getMessage());
    assertTrue(!e.getMessage().contains("\n"));
  }

  @Test
  void optionsReachTheirSettings() {
    BaseModelBuilder.Settings s =
        parse(
            "--out",
            "x",
            "--recipe",
            "world-v1",
            "--unet-steps",
            "7",
            "--batch",
            "2",
            "--images",
            "8",
            "--patterns",
            "stripes,dots",
            "--vae-channels",
            "8,16",
            "--text-lr-scale",
            "0.5",
            "--latent-object-weight",
            "3");
    BaseModelBuilder.Settings expected =
        BaseModelBuilder.Settings.builder()
            .unetSteps(7)
            .batch(2)
            .trainImages(8)
            .patterns(List.of(Pattern.STRIPES, Pattern.DOTS))
            .vaeChannels(List.of(8, 16))
            .textLearningRateScale(0.5f)
            .latentObjectWeight(3f)
            .build();
    assertEquals(expected, s);
  }

  @Test
  void everySettingSurvivesTheRoundTripThroughABuilder() {
    BaseModelBuilder.Settings odd =
        BaseModelBuilder.Settings.builder()
            .vaeSteps(1)
            .textPretrainSteps(2)
            .unetSteps(3)
            .frozenTextFraction(0.4f)
            .batch(5)
            .seed(6)
            .trainImages(7)
            .captionsForCinv(8)
            .twoObjectFraction(0.9)
            .stripedFraction(0.1)
            .patterns(List.of(Pattern.RING))
            .detailedCaptions(0.2)
            .vaeChannels(List.of(3, 4))
            .latentChannels(5)
            .unetChannels(List.of(6, 7))
            .unetHeads(1)
            .textWidth(9)
            .textLayers(2)
            .textHeads(3)
            .vaeLearningRate(1e-5f)
            .unetLearningRate(2e-5f)
            .textLearningRateScale(0.3f)
            .unetAverageDecay(0.5f)
            .captionDropout(0.2f)
            .highNoiseWeightCap(3f)
            .vaeObjectWeight(4f)
            .latentObjectWeight(5f)
            .build();
    assertEquals(odd, odd.toBuilder().build());
  }
}
