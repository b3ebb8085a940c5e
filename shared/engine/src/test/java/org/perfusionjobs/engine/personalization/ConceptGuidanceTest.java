package org.perfusionjobs.engine.personalization;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.attention.Region;
import org.perfusionjobs.engine.pipeline.RegionalConditioner.RegionPrompt;

/** The anchor prompt is the prompt with whole concept words replaced by their superclasses. */
class ConceptGuidanceTest {
  @Test
  void replacesWholeConceptWordsOnly() {
    Map<String, String> words = new LinkedHashMap<>();
    words.put("zwx", "star");
    words.put("vkp", "heart");
    ConceptGuidance g = new ConceptGuidance(words, 3f);
    assertTrue(g.on());
    assertEquals("a large star on a sand background", g.anchor("a large zwx on a sand background"));
    assertEquals(
        "a star on the left and a heart on the right",
        g.anchor("a zwx on the left and a vkp on the right"));
    assertEquals("a zwxy, a star, star.", g.anchor("a zwxy, a zwx, zwx."), "not inside zwxy");
    assertEquals("a $1 heart", new ConceptGuidance(Map.of("q", "$1"), 3f).anchor("a q heart"));
  }

  @Test
  void eachRegionIsAnchoredOnItsOwnText() {
    RegionPrompt box = new RegionPrompt(new Region(0, 0, 0.5, 1), "a zwx on the left");
    assertEquals(
        "a star on the left",
        new ConceptGuidance(Map.of("zwx", "star"), 3f).anchored(List.of(box)).get(0).anchor());
    assertEquals(List.of(box), ConceptGuidance.OFF.anchored(List.of(box)));
  }

  @Test
  void offAndBadValuesAreNamed() {
    assertFalse(ConceptGuidance.OFF.on());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> new ConceptGuidance(Map.of("zwx", "star"), -1f));
    assertTrue(e.getMessage().contains("concept guidance"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new ConceptGuidance(Map.of("zwx", " "), 3f));
  }
}
