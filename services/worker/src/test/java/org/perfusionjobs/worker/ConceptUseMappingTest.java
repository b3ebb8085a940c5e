package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.contracts.GenerateRequestV1.ConceptRef;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.SuperclassLayout;

/** A generate request's run-time choices for a concept reach the engine, and nothing else does. */
class ConceptUseMappingTest {
  private static final Concept FILE =
      new Concept(
          "zwx",
          "star",
          "world-v2",
          "hash",
          0.7f,
          0.15f,
          new float[] {1, 0},
          new float[] {0, 1},
          Map.of(),
          Map.of(),
          Map.of("steps", "400"));

  @Test
  void betaTauAndTheSuperclassLayoutAreTheRequests() {
    ConceptUse use = JobIntake.conceptUse(new ConceptRef("c1", 0.5, 0.2, 0.15), FILE);
    assertEquals(0.5f, use.beta());
    assertEquals(0.2f, use.tau());
    assertEquals(0.15, SuperclassLayout.of(use.concept()));
    assertEquals(
        "400", use.concept().trainingSettings().get("steps"), "the file's own settings stay");
  }

  @Test
  void absentChoicesKeepTheConceptsOwn() {
    ConceptUse use = JobIntake.conceptUse(new ConceptRef("c1", null, null, null), FILE);
    assertNull(use.beta());
    assertNull(use.tau());
    assertSame(FILE, use.concept());
    assertEquals(0, SuperclassLayout.of(use.concept()), "the paper's");
  }
}
