package org.perfusionjobs.basemodel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.RecordComponent;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.basemodel.BaseModelBuilder.Settings;

/** Each {@code with} method changes exactly the settings it names and keeps every other one. */
class SettingsTest {
  private static final Settings D = Settings.defaults();

  @Test
  void eachWithMethodChangesOnlyItsOwnSettings() throws Exception {
    assertChanges(s -> s.withSteps(7, 9, 3), "vaeSteps", "unetSteps", "batch");
    assertChanges(s -> s.withData(11, 64, 12), "seed", "trainImages", "captionsForCinv");
    assertChanges(s -> s.withWidths(List.of(8, 16), List.of(16, 32), 2, 32, 2, 2),
        "vaeChannels", "unetChannels", "unetHeads", "textWidth", "textLayers", "textHeads");
    assertChanges(s -> s.withLatentChannels(8), "latentChannels");
    assertChanges(s -> s.withFrozenTextFraction(0.5f), "frozenTextFraction");
    assertChanges(s -> s.withTextPretraining(3, 0.7), "textPretrainSteps", "detailedCaptions");
    assertChanges(s -> s.withHighNoiseWeightCap(5f), "highNoiseWeightCap");
    assertChanges(s -> s.withObjects(0.5, 2f, 3f), "stripedFraction", "vaeObjectWeight", "latentObjectWeight");
    assertChanges(s -> s.withUnetAverage(0.9f), "unetAverageDecay");
    assertChanges(s -> s.withLearningRates(2e-3f, 3e-4f), "vaeLearningRate", "unetLearningRate");
    assertChanges(s -> s.withTwoObjectFraction(0.25), "twoObjectFraction");
    assertChanges(s -> s.withTextLearningRateScale(0.5f), "textLearningRateScale");
    assertChanges(s -> s.withPatterns(org.perfusionjobs.world.Pattern.hidden()), "patterns");
  }

  private static void assertChanges(UnaryOperator<Settings> with, String... expected) throws Exception {
    Settings changed = with.apply(D);
    Set<String> differ = new TreeSet<>();
    for (RecordComponent c : Settings.class.getRecordComponents()) {
      if (!c.getAccessor().invoke(D).equals(c.getAccessor().invoke(changed))) {
        differ.add(c.getName());
      }
    }
    assertEquals(new TreeSet<>(List.of(expected)), differ);
  }
}
