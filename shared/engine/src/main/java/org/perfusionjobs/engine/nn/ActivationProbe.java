package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

/**
 * Optional capture of intermediate activations by module path, for comparing a port with its
 * reference stage by stage. Off unless a sink is installed on the calling thread. The sink receives
 * a copy owned by the caller's manager, since the engine frees its intermediates as soon as they
 * are dead ({@link BlockScope}).
 */
public final class ActivationProbe {
  private static final ThreadLocal<BiConsumer<String, NDArray>> SINK = new ThreadLocal<>();

  private ActivationProbe() {}

  /** Runs {@code body} with {@code sink} receiving (path, activation) pairs. */
  public static <T> T capture(BiConsumer<String, NDArray> sink, Supplier<T> body) {
    BiConsumer<String, NDArray> previous = SINK.get();
    SINK.set(sink);
    try {
      return body.get();
    } finally {
      SINK.set(previous);
    }
  }

  public static void record(String path, NDArray value) {
    BiConsumer<String, NDArray> sink = SINK.get();
    if (sink != null) {
      value = value.duplicate();
      NDManager outside = BlockScope.outermost();
      if (outside != null) {
        value.attach(outside);
      }
      sink.accept(path, value);
    }
  }
}
