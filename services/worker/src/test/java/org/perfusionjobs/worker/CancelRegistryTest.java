package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A long-lived worker reads every cancel ever sent; its local marks must not grow with them (issue
 * 19: flat RSS on long runs).
 */
class CancelRegistryTest {
  static final long HOUR = 3_600_000L;

  @Test
  void marksExpireWithTheirRedisCopyAndAreSweptSoTheMapStaysBounded() {
    AtomicLong now = new AtomicLong(1_000_000_000_000L);
    CancelRegistry r = new CancelRegistry(now::get);
    // Two days of cancels, one every 10 s, each read as it is sent.
    int n = 2 * 24 * 360;
    int liveAtEnd = 0;
    for (int i = 0; i < n; i++) {
      now.addAndGet(10_000);
      r.mark("t/job-" + i, "reason " + i, now.get());
      // Independently of the registry: the marks younger than a day when the last one arrives.
      if ((long) (n - 1 - i) * 10_000 < 24 * HOUR) {
        liveAtEnd++;
      }
      assertTrue(
          r.size() <= 24 * 360 + CancelRegistry.SWEEP_EVERY,
          "marks held at " + i + ": " + r.size());
    }
    assertEquals(24 * 360, liveAtEnd);
    assertTrue(r.size() >= liveAtEnd && r.size() <= liveAtEnd + CancelRegistry.SWEEP_EVERY);
    assertTrue(r.isCancelledLocally("t", "job-" + (n - 1)));
    assertEquals("reason " + (n - 1), r.reason("t", "job-" + (n - 1)));
    assertFalse(r.isCancelledLocally("t", "job-0"), "a mark older than a day is gone");
    assertNull(r.reason("t", "job-0"));
  }

  @Test
  void aCancelReadAfterItsMarkExpiredKeepsNothing() {
    AtomicLong now = new AtomicLong(1_000_000_000_000L);
    CancelRegistry r = new CancelRegistry(now::get);
    var left = r.mark("t/old", "", now.get() - 25 * HOUR);
    assertTrue(left.isNegative());
    assertEquals(0, r.size());
    assertFalse(r.isCancelledLocally("t", "old"));
    // A record time in the future (a skewed producer clock) counts from now.
    assertEquals(24 * HOUR, r.mark("t/new", null, now.get() + HOUR).toMillis());
    assertTrue(r.isCancelledLocally("t", "new"));
    assertNull(r.reason("t", "new"));
  }
}
