package org.perfusionjobs.engine.nn;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counts the multiply-add work of convolutions, linear layers and attention matmuls while enabled,
 * for benchmarks that report achieved GFLOP/s. Normalisations and element-wise ops are not counted
 * (they are a few percent of a UNet's work), so reported rates are slight underestimates. Off by
 * default; when off the cost is one volatile read per layer call.
 */
public final class FlopCounter {
  private static volatile boolean enabled;
  private static final LongAdder FLOPS = new LongAdder();

  private FlopCounter() {}

  public static void start() {
    FLOPS.reset();
    enabled = true;
  }

  /** Stops counting and returns the floating-point operations since {@link #start}. */
  public static long stop() {
    enabled = false;
    return FLOPS.sum();
  }

  static boolean enabled() {
    return enabled;
  }

  /** Adds 2 * multiply-adds. */
  public static void addMultiplyAdds(long macs) {
    if (enabled) {
      FLOPS.add(2 * macs);
    }
  }
}
