package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * A node of a model tree whose child and parameter names are the checkpoint's key segments, so that
 * {@code down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight} names exactly one
 * {@link Parameter}. Java fields use camelCase; the registered names follow diffusers.
 */
public abstract class Module {
  private final Map<String, Module> children = new LinkedHashMap<>();
  private final Map<String, Parameter> parameters = new LinkedHashMap<>();

  /** Registers a child under its checkpoint name and returns it, for field initialisers. */
  protected final <M extends Module> M child(String name, M module) {
    if (children.putIfAbsent(name, module) != null) {
      throw new IllegalStateException(
          "duplicate child '" + name + "' in " + getClass().getSimpleName());
    }
    return module;
  }

  /** Declares a parameter under its checkpoint name with the shape a checkpoint must have. */
  protected final Parameter parameter(String name, Shape shape) {
    Parameter p = new Parameter(name, shape);
    if (parameters.putIfAbsent(name, p) != null) {
      throw new IllegalStateException(
          "duplicate parameter '" + name + "' in " + getClass().getSimpleName());
    }
    return p;
  }

  public final Map<String, Module> children() {
    return Collections.unmodifiableMap(children);
  }

  /** Every parameter of this subtree keyed by its full dotted checkpoint key, in tree order. */
  public final Map<String, Parameter> namedParameters() {
    Map<String, Parameter> out = new LinkedHashMap<>();
    collect("", out);
    return out;
  }

  private void collect(String prefix, Map<String, Parameter> out) {
    parameters.forEach((n, p) -> out.put(prefix + n, p));
    children.forEach((n, c) -> c.collect(prefix + n + ".", out));
  }

  /** Visits every module of this subtree with its dotted path ("" for this one). */
  public final void visit(BiConsumer<String, Module> visitor) {
    visit("", visitor);
  }

  private void visit(String path, BiConsumer<String, Module> visitor) {
    visitor.accept(path, this);
    children.forEach((n, c) -> c.visit(path.isEmpty() ? n : path + "." + n, visitor));
  }

  /** Total number of scalar weights. */
  public final long parameterCount() {
    return namedParameters().values().stream().mapToLong(p -> p.shape().size()).sum();
  }

  /**
   * Fills every parameter with seeded random values shaped like a trained model (weights ~ N(0,
   * 1/fan_in), norm gains 1, biases 0). For tests and benchmarks that need a full-size model
   * without its multi-gigabyte checkpoint.
   */
  public final void initRandom(NDManager manager, DataType dtype, long seed) {
    manager.getEngine().setRandomSeed((int) seed);
    for (Map.Entry<String, Parameter> e : namedParameters().entrySet()) {
      Parameter p = e.getValue();
      Shape s = p.shape();
      NDArray value;
      String key = e.getKey();
      if (s.dimension() == 1) {
        boolean gain =
            key.endsWith("norm.weight")
                || key.matches(
                    ".*norm\\d*\\.weight|.*norm_out\\.weight|.*layer_norm\\d*\\.weight|.*final_layer_norm\\.weight");
        value = gain ? manager.ones(s, dtype) : manager.zeros(s, dtype);
      } else {
        long fanIn = s.size() / s.get(0);
        value =
            manager
                .randomNormal(0f, (float) (1.0 / Math.sqrt(fanIn)), s, DataType.FLOAT32)
                .toType(dtype, false);
      }
      p.set(value);
    }
  }
}
