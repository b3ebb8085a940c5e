package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The gate masks of each scope, against masks written out by hand. */
class GateScopeMaskTest {
  private static final long A = 10;
  private static final long B = 20;

  @Test
  void wordOpensOnlyOnItsOwnTokenAndAllEverywhere() {
    // row 0: <start> a A on B x <pad>; row 1: A B A x <pad> <pad> <pad> (a word repeated)
    long[] ids = {1, 2, A, 3, B, 4, 0, A, B, A, 4, 0, 0, 0};
    float[] mask =
        GateScope.mask(ids, 2, 7, new long[] {A, B}, List.of(GateScope.WORD, GateScope.ALL));
    float[] a = new float[14];
    float[] b = new float[14];
    for (int i = 0; i < 14; i++) {
      a[i] = mask[i * 2];
      b[i] = mask[i * 2 + 1];
    }
    assertArrayEquals(new float[] {0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0}, a, "A's word");
    float[] ones = new float[14];
    Arrays.fill(ones, 1f);
    assertArrayEquals(ones, b, "B open everywhere");
  }

  @Test
  void unknownScopeNamesTheChoices() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> GateScope.parse("words"));
    assertEquals("gate scope 'words': expected all or word", e.getMessage());
    assertEquals(GateScope.WORD, GateScope.parse(" Word "));
  }
}
