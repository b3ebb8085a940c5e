package org.perfusionjobs.basemodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.RecordComponent;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.basemodel.BaseModelBuilder.Builder;
import org.perfusionjobs.basemodel.BaseModelBuilder.Settings;
import org.perfusionjobs.world.Pattern;

/**
 * The recipe's defaults are the shipped model's, and each builder setting changes exactly the value
 * it names.
 */
class SettingsTest {
  private static final Settings D = Settings.defaults();

  /**
   * Every value of the shipped model's recipe (revision 7), as the 26-argument Settings.defaults()
   * of before the builder had them.
   */
  @Test
  void theDefaultsAreTheShippedRecipe() throws Exception {
    Map<String, Object> expected = new LinkedHashMap<>();
    expected.put("vaeSteps", 2500);
    expected.put("unetSteps", 12000);
    expected.put("batch", 16);
    expected.put("seed", 0L);
    expected.put("trainImages", 16384);
    expected.put("captionsForCinv", 5000);
    expected.put("vaeChannels", List.of(32, 64, 64));
    expected.put("latentChannels", 4);
    expected.put("unetChannels", List.of(64, 128));
    expected.put("unetHeads", 4);
    expected.put("textWidth", 64);
    expected.put("textLayers", 4);
    expected.put("textHeads", 4);
    expected.put("vaeLearningRate", 1e-3f);
    expected.put("unetLearningRate", 1e-3f);
    expected.put("captionDropout", 0.1f);
    expected.put("frozenTextFraction", 0.2f);
    expected.put("textPretrainSteps", 1500);
    expected.put("detailedCaptions", 0.3);
    expected.put("highNoiseWeightCap", 20f);
    expected.put("stripedFraction", 0.25);
    expected.put("vaeObjectWeight", 10f);
    expected.put("latentObjectWeight", 4f);
    expected.put("unetAverageDecay", 0.999f);
    expected.put("twoObjectFraction", 0.5);
    expected.put("textLearningRateScale", 0.1f);
    expected.put("patterns", List.of(Pattern.STRIPES));
    assertEquals(27, expected.size());
    assertEquals(expected.keySet(), Set.copyOf(values(D).keySet()), "every setting is pinned");
    for (Map.Entry<String, Object> e : expected.entrySet()) {
      assertEquals(e.getValue(), values(D).get(e.getKey()), e.getKey());
    }
    assertEquals(9600, D.stages().jointSteps());
  }

  @Test
  void eachBuilderSettingChangesOnlyItsOwnValue() throws Exception {
    Map<String, UnaryOperator<Builder>> set = new LinkedHashMap<>();
    set.put("vaeSteps", b -> b.vaeSteps(7));
    set.put("textPretrainSteps", b -> b.textPretrainSteps(3));
    set.put("unetSteps", b -> b.unetSteps(9));
    set.put("frozenTextFraction", b -> b.frozenTextFraction(0.5f));
    set.put("batch", b -> b.batch(3));
    set.put("seed", b -> b.seed(11));
    set.put("trainImages", b -> b.trainImages(64));
    set.put("captionsForCinv", b -> b.captionsForCinv(12));
    set.put("twoObjectFraction", b -> b.twoObjectFraction(0.25));
    set.put("stripedFraction", b -> b.stripedFraction(0.5));
    set.put("patterns", b -> b.patterns(Pattern.hidden()));
    set.put("detailedCaptions", b -> b.detailedCaptions(0.7));
    set.put("vaeChannels", b -> b.vaeChannels(List.of(8, 16)));
    set.put("latentChannels", b -> b.latentChannels(8));
    set.put("unetChannels", b -> b.unetChannels(List.of(16, 32)));
    set.put("unetHeads", b -> b.unetHeads(2));
    set.put("textWidth", b -> b.textWidth(32));
    set.put("textLayers", b -> b.textLayers(2));
    set.put("textHeads", b -> b.textHeads(2));
    set.put("vaeLearningRate", b -> b.vaeLearningRate(2e-3f));
    set.put("unetLearningRate", b -> b.unetLearningRate(3e-4f));
    set.put("textLearningRateScale", b -> b.textLearningRateScale(0.5f));
    set.put("unetAverageDecay", b -> b.unetAverageDecay(0.9f));
    set.put("captionDropout", b -> b.captionDropout(0.2f));
    set.put("highNoiseWeightCap", b -> b.highNoiseWeightCap(5f));
    set.put("vaeObjectWeight", b -> b.vaeObjectWeight(2f));
    set.put("latentObjectWeight", b -> b.latentObjectWeight(3f));
    assertEquals(values(D).keySet(), set.keySet(), "a builder setting for every value");
    for (Map.Entry<String, UnaryOperator<Builder>> e : set.entrySet()) {
      Settings changed = e.getValue().apply(Settings.builder()).build();
      Map<String, Object> a = values(D);
      Map<String, Object> b = values(changed);
      Set<String> differ = new TreeSet<>();
      for (String k : a.keySet()) {
        if (!a.get(k).equals(b.get(k))) {
          differ.add(k);
        }
      }
      assertEquals(Set.of(e.getKey()), differ, e.getKey());
    }
  }

  @Test
  void aBatchLargerThanTheTrainingSetIsRefused() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> Settings.builder().trainImages(8).batch(16).build());
    assertTrue(e.getMessage().contains("train images 8 (>= batch 16)"), e.getMessage());
  }

  /** Every value of the five groups, by name. */
  static Map<String, Object> values(Settings s) throws Exception {
    Map<String, Object> out = new LinkedHashMap<>();
    for (RecordComponent group : Settings.class.getRecordComponents()) {
      Object g = group.getAccessor().invoke(s);
      for (RecordComponent c : g.getClass().getRecordComponents()) {
        assertTrue(
            out.put(c.getName(), c.getAccessor().invoke(g)) == null, c.getName() + " appears once");
      }
    }
    return out;
  }
}
