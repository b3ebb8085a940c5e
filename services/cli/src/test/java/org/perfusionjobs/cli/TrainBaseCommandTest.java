package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.basemodel.BaseModelBuilder;
import org.perfusionjobs.world.Pattern;
import picocli.CommandLine;

/**
 * train-base is a thin adapter: no option is the library's recipe, and each option reaches the
 * setting it names.
 */
class TrainBaseCommandTest {
  static BaseModelBuilder.Settings parse(String... args) {
    TrainBaseCommand cmd = new TrainBaseCommand();
    new CommandLine(cmd).parseArgs(args);
    return cmd.settings();
  }

  @Test
  void noOptionIsTheShippedRecipe() {
    assertEquals(BaseModelBuilder.Settings.defaults(), parse("--out", "x"));
  }

  @Test
  void optionsReachTheirSettings() {
    BaseModelBuilder.Settings s =
        parse(
            "--out",
            "x",
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
}
