package org.perfusionjobs.evaluator.concepts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.evaluator.prompts.DemoConcept;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.World;

class ConceptSuiteTest {
  private final List<SuiteConcept> suite = ConceptSuite.load();

  @Test
  void atLeastEightDistinctConceptsWithTheDemoAmongThem() {
    assertTrue(suite.size() >= 8, suite.size() + " concepts");
    assertEquals(
        suite.size(), suite.stream().map(SuiteConcept::spec).distinct().count(), "distinct specs");
    assertEquals(
        suite.size(), suite.stream().map(SuiteConcept::word).distinct().count(), "distinct words");
    SuiteConcept demo = ConceptSuite.byWord(DemoConcept.WORD).orElseThrow();
    assertEquals(new ConceptSpec(Shape.STAR, Colour.RED, Pattern.STRIPES), demo.spec());
    assertEquals(DemoConcept.SUPERCLASS, demo.superclass());
  }

  @Test
  void theyDifferInShapeColourAndPatternAndEachHiddenPatternIsUsed() {
    assertTrue(suite.stream().map(c -> c.spec().shape()).distinct().count() >= 4);
    assertTrue(suite.stream().map(c -> c.spec().colour()).distinct().count() >= 4);
    Set<Pattern> patterns =
        suite.stream()
            .map(c -> c.spec().pattern())
            .collect(Collectors.toCollection(() -> EnumSet.noneOf(Pattern.class)));
    assertEquals(
        EnumSet.copyOf(Pattern.hidden()),
        patterns,
        "every hidden pattern and no plain concept (plain ones are drawable from words)");
  }

  @Test
  void wordsAreNewAndSuperclassesAreTheShapesWord() {
    Set<String> vocabulary = new World().vocabulary();
    for (SuiteConcept c : suite) {
      assertTrue(!vocabulary.contains(c.word()), c.word() + " is already a caption word");
      assertEquals(c.spec().shape().words().get(0), c.superclass(), c.word() + "'s superclass");
      assertEquals(c.spec(), ConceptSpec.parse(c.spec().text()), "spec round trip");
    }
  }

  @Test
  void aBadEntryIsRefusedByField() throws Exception {
    var json =
        Configs.json()
            .readTree(
                "{\"concepts\": [{\"word\": \"Zw1\", \"superclass\": \"star\", \"spec\":"
                    + " \"shape=star,colour=red\"}]}");
    var e = Assertions.assertThrows(IllegalArgumentException.class, () -> ConceptSuite.parse(json));
    assertTrue(e.getMessage().startsWith("word: "), e.getMessage());
  }
}
