package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The gate masks of each scope, against masks written out by hand. */
class GateScopeTest {
  private static final long A = 10;
  private static final long B = 20;

  /** Column j of a (rows, tokens, 2) mask. */
  private static float[] column(float[] mask, int j) {
    float[] out = new float[mask.length / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = mask[i * 2 + j];
    }
    return out;
  }

  @Test
  void eachScopeOpensWhereItSays() {
    // row 0: <start> a A on B x <pad>; row 1: A B A x (a word repeated after another concept's)
    long[] ids = {1, 2, A, 3, B, 4, 0, A, B, A, 4, 0, 0, 0};
    long[] words = {A, B};
    float[] segment =
        GateScope.mask(ids, 2, 7, words, List.of(GateScope.SEGMENT, GateScope.SEGMENT));
    assertArrayEquals(
        new float[] {0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1}, column(segment, 0), "A's segments");
    assertArrayEquals(
        new float[] {0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0}, column(segment, 1), "B's segments");
    float[] mixed = GateScope.mask(ids, 2, 7, words, List.of(GateScope.WORD, GateScope.ALL));
    assertArrayEquals(
        new float[] {0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0}, column(mixed, 0), "A's word");
    assertArrayEquals(new float[14], subtract(1, column(mixed, 1)), "B open everywhere");
  }

  @Test
  void oneConceptsSegmentIsEverythingFromItsWordOn() {
    long[] ids = {1, 2, 3, A, 4, 5, 0, 0};
    float[] segment = GateScope.mask(ids, 1, 8, new long[] {A}, List.of(GateScope.SEGMENT));
    assertArrayEquals(new float[] {0, 0, 0, 1, 1, 1, 1, 1}, segment);
  }

  @Test
  void unknownScopeNamesTheChoices() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> GateScope.parse("words"));
    assertEquals("gate scope 'words': expected all, word or segment", e.getMessage());
    assertEquals(GateScope.SEGMENT, GateScope.parse(" Segment "));
  }

  private static float[] subtract(float a, float[] b) {
    float[] out = new float[b.length];
    for (int i = 0; i < b.length; i++) {
      out[i] = a - b[i];
    }
    return out;
  }
}
