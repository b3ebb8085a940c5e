package org.perfusionjobs.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the soak reads about a worker process's memory: the kernel's view ({@code /proc/PID/status}:
 * VmRSS, RssAnon, RssFile, Threads) and the JVM's own ({@code jcmd PID VM.native_memory summary}
 * with {@code -XX:NativeMemoryTracking=summary}, and {@code GC.heap_info}); and the slope of a
 * series with its 95% confidence interval.
 */
final class WorkerMemory {
  private WorkerMemory() {}

  private static final Pattern NMT_TOTAL =
      Pattern.compile("^Total: reserved=(\\d+)KB, committed=(\\d+)KB", Pattern.MULTILINE);
  private static final Pattern NMT_CATEGORY =
      Pattern.compile(
          "^-\\s+(\\S.*?) \\(reserved=(\\d+)KB, committed=(\\d+)KB\\)", Pattern.MULTILINE);
  private static final Pattern HEAP =
      Pattern.compile("heap\\s+total (\\d+)K, used (\\d+)K", Pattern.MULTILINE);
  private static final Pattern METASPACE =
      Pattern.compile("^\\s*Metaspace\\s+used (\\d+)K, committed (\\d+)K", Pattern.MULTILINE);

  /** From {@code /proc/PID/status}: VmRSS, RssAnon, RssFile (KB) and Threads; empty if gone. */
  static Map<String, Long> procStatus(long pid) {
    Map<String, Long> m = new LinkedHashMap<>();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        for (String key : List.of("VmRSS", "RssAnon", "RssFile", "Threads")) {
          if (line.startsWith(key + ":")) {
            m.put(key, Long.parseLong(line.replaceAll("[^0-9]", "")));
          }
        }
      }
    } catch (IOException | RuntimeException gone) {
      m.clear();
    }
    return m;
  }

  private static final Pattern SMAPS_RANGE =
      Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) (\\S+) \\S+ \\S+ \\d+\\s*(.*)$");

  /**
   * Resident memory by kind of mapping, in KB, from {@code /proc/PID/smaps}: {@code smaps:malloc}
   * (glibc's heaps: the brk heap and its 64 MB-aligned arenas, where libtorch's and the JVM's
   * malloc'd memory lives), {@code smaps:java-heap} (mappings inside the heap's address range
   * {@code heap}: pages touched so far, at most the committed heap), {@code smaps:code} (executable
   * anonymous memory: JIT code), {@code smaps:libraries} and {@code smaps:other-anon} (metaspace,
   * thread stacks, GC tables, ...). Empty if the process is gone.
   */
  static Map<String, Long> smaps(long pid, long[] heap) {
    try {
      return parseSmaps(Files.readAllLines(Path.of("/proc/" + pid + "/smaps")), heap);
    } catch (IOException | RuntimeException gone) {
      return Map.of();
    }
  }

  static Map<String, Long> parseSmaps(List<String> lines, long[] heap) {
    record Range(long start, long end, String perm, String path, long[] rss) {}
    List<Range> ranges = new java.util.ArrayList<>();
    for (String line : lines) {
      Matcher m = SMAPS_RANGE.matcher(line);
      if (m.matches()) {
        ranges.add(
            new Range(
                Long.parseUnsignedLong(m.group(1), 16),
                Long.parseUnsignedLong(m.group(2), 16),
                m.group(3),
                m.group(4).trim(),
                new long[1]));
      } else if (line.startsWith("Rss:") && !ranges.isEmpty()) {
        ranges.get(ranges.size() - 1).rss()[0] = Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    Map<String, Long> m = new LinkedHashMap<>();
    for (String k : List.of("malloc", "java-heap", "code", "libraries", "other-anon")) {
      m.put("smaps:" + k, 0L);
    }
    long arena = 64L << 20;
    for (int i = 0; i < ranges.size(); i++) {
      Range r = ranges.get(i);
      Range next = i + 1 < ranges.size() ? ranges.get(i + 1) : null;
      String kind;
      if (r.path().equals("[heap]")) {
        kind = "malloc";
      } else if (!r.path().isEmpty()) {
        kind = r.path().contains(".so") ? "libraries" : null;
      } else if (r.start() >= heap[0] && r.end() <= heap[1]) {
        kind = "java-heap";
      } else if (r.perm().contains("x")) {
        kind = "code";
      } else if (r.start() % arena == 0
          && r.perm().startsWith("rw")
          && r.end() - r.start() <= arena
          && (next == null || next.start() != r.end() || next.perm().startsWith("---"))) {
        kind = "malloc"; // a glibc arena: 64 MB-aligned, its unused tail reserved without access
      } else {
        kind = "other-anon";
      }
      if (kind != null) {
        m.merge("smaps:" + kind, r.rss()[0], Long::sum);
      }
    }
    return m;
  }

  /**
   * The Java heap's address range from {@code GC.heap_info} ({@code [0x00000000c0000000,
   * 0x0000000100000000)}), or null.
   */
  static long[] heapRange(String heapInfo) {
    Matcher m = HEAP_RANGE.matcher(heapInfo);
    return m.find()
        ? new long[] {
          Long.parseUnsignedLong(m.group(1), 16), Long.parseUnsignedLong(m.group(2), 16)
        }
        : null;
  }

  private static final Pattern HEAP_RANGE =
      Pattern.compile("heap\\s+total \\d+K, used \\d+K \\[0x([0-9a-f]+), 0x([0-9a-f]+)");

  /**
   * The JVM's view, in KB: {@code nmt:Total} and {@code nmt:<category>} (committed), {@code
   * heap:committed}, {@code heap:used}, {@code metaspace:used}, and the {@link #smaps} split; empty
   * when jcmd fails.
   */
  static Map<String, Long> jvm(Path jcmd, long pid, Path commands) {
    try {
      Process p =
          new ProcessBuilder(jcmd.toString(), Long.toString(pid), "-f", commands.toString())
              .redirectErrorStream(true)
              .start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return Map.of();
      }
      String text = new String(out, StandardCharsets.UTF_8);
      Map<String, Long> m = new LinkedHashMap<>(parseJvm(text));
      long[] heap = heapRange(text);
      if (heap != null) {
        m.putAll(smaps(pid, heap));
      }
      return m;
    } catch (IOException e) {
      return Map.of();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Map.of();
    }
  }

  /** The commands file for {@link #jvm}: NMT summary and heap info in one attach. */
  static Path commandsFile(Path dir) throws IOException {
    return Files.writeString(
        dir.resolve("jcmd-memory.txt"), "VM.native_memory summary\nGC.heap_info\n");
  }

  static Map<String, Long> parseJvm(String text) {
    Map<String, Long> m = new LinkedHashMap<>();
    Matcher t = NMT_TOTAL.matcher(text);
    if (t.find()) {
      m.put("nmt:Total", Long.parseLong(t.group(2)));
    }
    Matcher c = NMT_CATEGORY.matcher(text);
    while (c.find()) {
      m.put("nmt:" + c.group(1).trim(), Long.parseLong(c.group(3)));
    }
    Matcher h = HEAP.matcher(text);
    long total = 0;
    long used = 0;
    boolean any = false;
    while (h.find()) { // G1: one line; generational collectors: one per generation
      total += Long.parseLong(h.group(1));
      used += Long.parseLong(h.group(2));
      any = true;
    }
    if (any) {
      m.put("heap:committed", total);
      m.put("heap:used", used);
    }
    Matcher ms = METASPACE.matcher(text);
    if (ms.find()) {
      m.put("metaspace:used", Long.parseLong(ms.group(1)));
    }
    return m;
  }

  /**
   * Slope of {@code v} over {@code t} (units of v per hour when t is in seconds), with the half
   * width of its 95% confidence interval. The samples are autocorrelated (a 5 s sampler on a slowly
   * moving value), so the fit is on the means of {@code blocks} consecutive, equally long time
   * blocks, and the interval uses Student's t with blocks - 2 degrees of freedom.
   */
  record Slope(double perHour, double halfWidth95, int blocks) {
    @Override
    public String toString() {
      return String.format(
          java.util.Locale.ROOT, "%+.1f +/- %.1f MB per hour", perHour, halfWidth95);
    }
  }

  static Slope slope(double[] t, double[] v, int blocks) {
    if (t.length < blocks || blocks < 3) {
      return new Slope(Double.NaN, Double.NaN, 0);
    }
    double t0 = t[0];
    double span = t[t.length - 1] - t0;
    double[] bt = new double[blocks];
    double[] bv = new double[blocks];
    int[] bn = new int[blocks];
    for (int i = 0; i < t.length; i++) {
      int b = span <= 0 ? 0 : Math.min(blocks - 1, (int) ((t[i] - t0) / span * blocks));
      bt[b] += t[i];
      bv[b] += v[i];
      bn[b]++;
    }
    int n = 0;
    for (int b = 0; b < blocks; b++) {
      if (bn[b] > 0) {
        bt[n] = bt[b] / bn[b];
        bv[n] = bv[b] / bn[b];
        n++;
      }
    }
    if (n < 3) {
      return new Slope(Double.NaN, Double.NaN, n);
    }
    double mt = 0;
    double mv = 0;
    for (int i = 0; i < n; i++) {
      mt += bt[i] / n;
      mv += bv[i] / n;
    }
    double sxx = 0;
    double sxy = 0;
    for (int i = 0; i < n; i++) {
      sxx += (bt[i] - mt) * (bt[i] - mt);
      sxy += (bt[i] - mt) * (bv[i] - mv);
    }
    double b1 = sxy / sxx;
    double sse = 0;
    for (int i = 0; i < n; i++) {
      double r = bv[i] - mv - b1 * (bt[i] - mt);
      sse += r * r;
    }
    double se = Math.sqrt(sse / (n - 2) / sxx);
    return new Slope(b1 * 3600, tQuantile975(n - 2) * se * 3600, n);
  }

  /** Student's t, 97.5% quantile. */
  static double tQuantile975(int df) {
    double[] q = {
      Double.NaN,
      12.706,
      4.303,
      3.182,
      2.776,
      2.571,
      2.447,
      2.365,
      2.306,
      2.262,
      2.228,
      2.201,
      2.179,
      2.160,
      2.145,
      2.131,
      2.120,
      2.110,
      2.101,
      2.093,
      2.086
    };
    return df < q.length ? q[df] : 1.96 + 2.4 / df;
  }
}
