package org.perfusionjobs.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.perfusionjobs.engine.nn.Parameter;

/**
 * An exponential moving average of a module's weights, kept beside them while it trains (as
 * diffusion models are usually sampled from): after each optimiser step, avg = d * avg + (1 - d) *
 * w with d = min(decay, (1 + n) / (10 + n)) at update n (0-based), so the first updates follow the
 * weights closely instead of dragging the random initialisation along. The average smooths the
 * step-to-step noise of the last ~1 / (1 - decay) updates out of the weights.
 *
 * <p>The averages are detached copies in the weights' manager, one per parameter, updated in place,
 * so their number never grows. {@link #close()} frees them.
 */
public final class WeightAverage implements AutoCloseable {
  private final Map<String, Parameter> params;
  private final Map<String, NDArray> averages = new LinkedHashMap<>();
  private final float decay;
  private int updates;

  /**
   * @param params the weights to follow, by checkpoint key ({@code Module#namedParameters()})
   * @param decay the largest per-update decay, in [0, 1)
   */
  public WeightAverage(Map<String, Parameter> params, float decay) {
    if (!(decay >= 0 && decay < 1)) {
      throw new IllegalArgumentException("weight average decay " + decay + " must be in [0, 1)");
    }
    this.params = new LinkedHashMap<>(params);
    this.decay = decay;
    params.forEach(
        (k, p) -> {
          NDArray detached = p.get().stopGradient();
          averages.put(k, keep(detached.duplicate()));
          detached.close();
        });
  }

  /** The decay used at update {@code n} (0-based): min(decay, (1 + n) / (10 + n)). */
  public float decayAt(int n) {
    return Math.min(decay, (1f + n) / (10f + n));
  }

  /**
   * Folds the weights' current values into the average, in place: avg -= (1 - d) * (avg - w), which
   * is d * avg + (1 - d) * w with one temporary per parameter. Call it after each optimiser step.
   */
  public void update() {
    float d = decayAt(updates);
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      for (Map.Entry<String, NDArray> e : averages.entrySet()) {
        NDArray avg = e.getValue();
        avg.subi(avg.sub(params.get(e.getKey()).get().stopGradient()).muli(1 - d));
      }
    }
    updates++;
  }

  /** Updates folded in so far. */
  public int updates() {
    return updates;
  }

  /**
   * The averaged weights by checkpoint key (live: each update changes them in place; valid until
   * close).
   */
  public Map<String, NDArray> averages() {
    return Collections.unmodifiableMap(averages);
  }

  private static NDArray keep(NDArray a) {
    NDScope.unregister(a);
    return a;
  }

  @Override
  public void close() {
    averages.values().forEach(NDArray::close);
    averages.clear();
  }
}
