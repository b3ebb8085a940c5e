package org.perfusionjobs.cli;

import java.io.PrintWriter;
import java.time.Duration;

/** A one-line terminal progress bar: {@code [#####.....] 10/20 0.12 s/step ETA 1.2 s loss ...}. */
final class ProgressBar {
  private static final int WIDTH = 30;
  private final PrintWriter out;
  private final String label;

  ProgressBar(PrintWriter out, String label) {
    this.out = out;
    this.label = label;
  }

  void update(int done, int total, Duration elapsed, Duration eta, String extra) {
    int filled = total == 0 ? WIDTH : (int) ((long) WIDTH * done / total);
    StringBuilder sb = new StringBuilder("\r").append(label).append(" [");
    sb.append("#".repeat(filled)).append(".".repeat(WIDTH - filled)).append("] ");
    sb.append(done).append('/').append(total);
    if (done > 0) {
      sb.append(String.format("  %.2f s/step", elapsed.toMillis() / 1000.0 / done));
    }
    sb.append(String.format("  ETA %.1f s", eta.toMillis() / 1000.0));
    if (extra != null && !extra.isEmpty()) {
      sb.append("  ").append(extra);
    }
    out.print(sb);
    if (done == total) {
      out.println();
    }
    out.flush();
  }
}
