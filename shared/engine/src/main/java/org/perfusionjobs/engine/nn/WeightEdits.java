package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Edits of a model's weights that are in force only while {@link #install installed}: additive
 * output terms of {@link Linear} layers (keyed by the layer's dotted module path, e.g. {@code
 * down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q}) and replaced parameter values (keyed
 * by the full checkpoint key, e.g. {@code ...attn2.to_k.weight}). The model's own weights are never
 * written: installing swaps references, closing the installation swaps them back. This is how a
 * request (or a training step) uses weights other than the base model's while the model stays
 * shared and bit-identical; the core applies them without knowing what made them.
 *
 * <p>Requests can share a UNet call only when their edits are in effect the same ({@link
 * #shareKey}): the same object, both empty, or made from one source (e.g. one concept at one scale)
 * that vouches for equal values, since each request holds its own copies of the arrays.
 */
public final class WeightEdits {
  public static final WeightEdits NONE = new WeightEdits(Map.of(), Map.of());
  private static final Object EMPTY = new Object();

  private final Map<String, LinearDelta> linearDeltas;
  private final Map<String, NDArray> parameterOverrides;
  private final Object source;

  /** Edits that share a UNet call only with themselves (or, when empty, with any empty edits). */
  public WeightEdits(
      Map<String, LinearDelta> linearDeltas, Map<String, NDArray> parameterOverrides) {
    this(linearDeltas, parameterOverrides, null);
  }

  /**
   * @param source what made these values (e.g. a conditioner: one concept at one scale), compared
   *     with {@code equals}: edits from equal sources must be equal in value (null: none, these
   *     edits are only the same as themselves)
   */
  public WeightEdits(
      Map<String, LinearDelta> linearDeltas,
      Map<String, NDArray> parameterOverrides,
      Object source) {
    this.linearDeltas = Collections.unmodifiableMap(new LinkedHashMap<>(linearDeltas));
    this.parameterOverrides = Collections.unmodifiableMap(new LinkedHashMap<>(parameterOverrides));
    this.source = source;
  }

  /**
   * Equal for edits with the same effect on the model: any two empty edits, edits from equal
   * sources, an object with itself. Requests are grouped into UNet calls by it.
   */
  public Object shareKey() {
    return isEmpty() ? EMPTY : source != null ? source : this;
  }

  /** Whether {@code other} has the same effect, so one installation serves both. */
  public boolean sameEffectAs(WeightEdits other) {
    return shareKey().equals(other.shareKey());
  }

  public Map<String, LinearDelta> linearDeltas() {
    return linearDeltas;
  }

  public Map<String, NDArray> parameterOverrides() {
    return parameterOverrides;
  }

  public boolean isEmpty() {
    return linearDeltas.isEmpty() && parameterOverrides.isEmpty();
  }

  /** An installation; {@link #close} restores exactly what was there before. */
  public interface Installed extends AutoCloseable {
    @Override
    void close();
  }

  private static final Installed NOTHING = () -> {};

  /**
   * Puts the edits in force on {@code root}'s subtree until the result is closed. Installations
   * nest: each replaces what it finds and puts that back on close. Everything is checked before
   * anything changes.
   *
   * @throws IllegalArgumentException for an unknown layer path or parameter key, or a wrong shape
   */
  public Installed install(Module root) {
    if (isEmpty()) {
      return NOTHING;
    }
    Map<String, Linear> linears = new LinkedHashMap<>();
    if (!linearDeltas.isEmpty()) {
      root.visit(
          (path, m) -> {
            if (m instanceof Linear l && linearDeltas.containsKey(path)) {
              linears.put(path, l);
            }
          });
      for (String path : linearDeltas.keySet()) {
        if (!linears.containsKey(path)) {
          throw new IllegalArgumentException(
              "weight edit: no Linear layer '" + path + "' in " + root.getClass().getSimpleName());
        }
      }
    }
    Map<String, Parameter> params =
        parameterOverrides.isEmpty() ? Map.of() : root.namedParameters();
    for (Map.Entry<String, NDArray> e : parameterOverrides.entrySet()) {
      Parameter p = params.get(e.getKey());
      if (p == null) {
        throw new IllegalArgumentException(
            "weight edit: no parameter '" + e.getKey() + "' in " + root.getClass().getSimpleName());
      }
      if (!p.shape().equals(e.getValue().getShape())) {
        throw new IllegalArgumentException(
            "weight edit: parameter '"
                + e.getKey()
                + "' is "
                + p.shape()
                + ", the override "
                + e.getValue().getShape());
      }
    }
    List<Runnable> undo = new ArrayList<>();
    linears.forEach(
        (path, l) -> {
          LinearDelta previous = l.setDelta(linearDeltas.get(path));
          undo.add(() -> l.setDelta(previous));
        });
    parameterOverrides.forEach(
        (key, value) -> {
          Parameter p = params.get(key);
          NDArray previous = p.swap(value);
          undo.add(() -> p.swap(previous));
        });
    return () -> {
      for (int i = undo.size() - 1; i >= 0; i--) {
        undo.get(i).run();
      }
    };
  }

  @Override
  public String toString() {
    return "WeightEdits["
        + linearDeltas.size()
        + " linear deltas, "
        + parameterOverrides.size()
        + " parameter overrides]";
  }
}
