package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The soak's memory readings: jcmd's text parsed, and the slope with its interval. */
class WorkerMemoryTest {
  static final String JCMD =
      """
      12345:
      Native Memory Tracking:

      (Omitting categories weighting less than 1KB)

      Total: reserved=2500000KB, committed=384086KB
             malloc: 60000KB #400000
             mmap:   reserved=2440000KB, committed=324086KB

      -                 Java Heap (reserved=1048576KB, committed=216064KB)
                                  (mmap: reserved=1048576KB, committed=216064KB)

      -                     Class (reserved=1050000KB, committed=5937KB)
                                  (classes #8000)

      -                      Code (reserved=247000KB, committed=11956KB)
                                  (malloc=2000KB #9000)

      -        Shared class space (reserved=16384KB, committed=12060KB)

      12345:
       garbage-first heap   total 216064K, used 78859K [0x00000000c0000000, 0x0000000100000000)
        region size 1024K, 40 young (40960K), 5 survivors (5120K)
       Metaspace       used 45364K, committed 46016K, reserved 1114112K
        class space    used 5000K, committed 5400K, reserved 1048576K
      """;

  @Test
  void readsNmtCategoriesHeapAndMetaspace() {
    Map<String, Long> m = WorkerMemory.parseJvm(JCMD);
    assertEquals(384086L, m.get("nmt:Total"));
    assertEquals(216064L, m.get("nmt:Java Heap"));
    assertEquals(5937L, m.get("nmt:Class"));
    assertEquals(11956L, m.get("nmt:Code"));
    assertEquals(12060L, m.get("nmt:Shared class space"));
    assertEquals(216064L, m.get("heap:committed"));
    assertEquals(78859L, m.get("heap:used"));
    assertEquals(45364L, m.get("metaspace:used"));
  }

  @Test
  void slopeOfANoisyLineIsFoundWithinItsInterval() {
    Random rnd = new Random(7);
    int n = 720; // an hour of 5 s samples
    double[] t = new double[n];
    double[] flat = new double[n];
    double[] rising = new double[n];
    for (int i = 0; i < n; i++) {
      t[i] = 5.0 * i;
      double noise = rnd.nextGaussian() * 3;
      flat[i] = 480 + noise;
      rising[i] = 480 + 20 * t[i] / 3600 + noise; // 20 MB per hour
    }
    WorkerMemory.Slope f = WorkerMemory.slope(t, flat, 10);
    WorkerMemory.Slope r = WorkerMemory.slope(t, rising, 10);
    assertEquals(10, f.blocks());
    assertTrue(Math.abs(f.perHour()) <= f.halfWidth95(), f.toString());
    assertTrue(f.halfWidth95() < 3, f.toString());
    assertTrue(Math.abs(r.perHour() - 20) <= r.halfWidth95(), r.toString());
    assertTrue(r.perHour() - r.halfWidth95() > 0, r.toString());
  }

  @Test
  void tooFewSamplesGiveNoSlope() {
    assertTrue(
        Double.isNaN(WorkerMemory.slope(new double[] {0, 1}, new double[] {1, 2}, 10).perHour()));
  }

  @Test
  void splitsResidentMemoryByKindOfMapping() {
    long[] heap = WorkerMemory.heapRange(JCMD);
    assertEquals(0xc0000000L, heap[0]);
    assertEquals(0x100000000L, heap[1]);
    var lines =
        java.util.List.of(
            "c0000000-cd300000 rw-p 00000000 00:00 0 ",
            "Rss:              164404 kB",
            "cd300000-100000000 ---p 00000000 00:00 0 ",
            "Rss:                   0 kB",
            "55d0a0000000-55d0a5000000 rw-p 00000000 00:00 0                          [heap]",
            "Rss:               92700 kB",
            "7fc8bc000000-7fc8bfeba000 rw-p 00000000 00:00 0 ",
            "Rss:               63616 kB",
            "7fc8bfeba000-7fc8c0000000 ---p 00000000 00:00 0 ",
            "Rss:                   0 kB",
            "7fc8d3400000-7fc8d4180000 rw-p 00000000 00:00 0 ",
            "Rss:               13824 kB",
            "7fc931400000-7fc932450000 rwxp 00000000 00:00 0 ",
            "Rss:               16680 kB",
            "7fc9a0000000-7fc9a1000000 r-xp 00000000 08:01 123   /usr/lib/libtorch_cpu.so",
            "Rss:               50000 kB",
            "7fc9b0000000-7fc9b0100000 r--p 00000000 08:01 124   /tmp/some.jar",
            "Rss:                1000 kB");
    Map<String, Long> m = WorkerMemory.parseSmaps(lines, heap);
    assertEquals(164404L, m.get("smaps:java-heap"));
    assertEquals(92700L + 63616L, m.get("smaps:malloc"));
    assertEquals(16680L, m.get("smaps:code"));
    assertEquals(50000L, m.get("smaps:libraries"));
    assertEquals(13824L, m.get("smaps:other-anon"));
  }
}
