package org.perfusionjobs.engine.io;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.Parameter;

/**
 * Fills every parameter of a {@link Module} tree from a safetensors checkpoint, strictly: every
 * checkpoint key must be consumed and every parameter filled, or loading fails with one error that
 * names all missing, unexpected and mis-shaped keys. Tensors stream one at a time, converted to the
 * model's dtype and moved to its device.
 */
public final class StateDictLoader {
  private final UnaryOperator<String> renamer;
  private final Set<String> ignored;

  /**
   * @param renamer maps a checkpoint key to the model key (e.g. legacy VAE attention names)
   * @param ignored checkpoint keys that are known harmless extras (e.g. the text encoder's
   *     position_ids buffer)
   */
  public StateDictLoader(UnaryOperator<String> renamer, Set<String> ignored) {
    this.renamer = renamer;
    this.ignored = ignored;
  }

  public static StateDictLoader strict() {
    return new StateDictLoader(UnaryOperator.identity(), Set.of());
  }

  /** Loads {@code file} into {@code model}; arrays are created in {@code manager}. */
  public void load(
      Module model, SafetensorsFile file, NDManager manager, DataType dtype, Device device)
      throws IOException {
    Map<String, Parameter> params = model.namedParameters();
    Map<String, String> modelKeyToFileKey = new LinkedHashMap<>();
    Set<String> unexpected = new TreeSet<>();
    List<String> misShaped = new ArrayList<>();
    for (TensorInfo info : file.tensors().values()) {
      if (ignored.contains(info.name())) {
        continue;
      }
      String key = renamer.apply(info.name());
      Parameter p = params.get(key);
      if (p == null) {
        unexpected.add(info.name());
      } else if (!compatible(info.shape(), p.shape())) {
        misShaped.add(info.name() + " is " + info.shape() + ", model expects " + p.shape());
      } else if (modelKeyToFileKey.put(key, info.name()) != null) {
        unexpected.add(info.name() + " (duplicates " + key + ")");
      }
    }
    Set<String> missing = new TreeSet<>(params.keySet());
    missing.removeAll(modelKeyToFileKey.keySet());
    if (!missing.isEmpty() || !unexpected.isEmpty() || !misShaped.isEmpty()) {
      throw new ModelLoadException(describe(file, missing, unexpected, misShaped));
    }
    for (Map.Entry<String, String> e : modelKeyToFileKey.entrySet()) {
      Parameter p = params.get(e.getKey());
      NDArray value = file.read(e.getValue(), manager, dtype);
      if (!value.getShape().equals(p.shape())) {
        NDArray reshaped = value.reshape(p.shape());
        value.close();
        value = reshaped;
      }
      if (!device.equals(value.getDevice())) {
        NDArray moved = value.toDevice(device, false);
        value.close();
        value = moved;
      }
      value.setName(e.getKey());
      p.set(value);
    }
  }

  /**
   * Same shape, or the same values with trailing 1x1 axes (1x1 conv weights saved for a Linear).
   */
  private static boolean compatible(Shape file, Shape model) {
    if (file.equals(model)) {
      return true;
    }
    if (file.size() != model.size() || file.dimension() <= model.dimension()) {
      return false;
    }
    for (int i = 0; i < model.dimension(); i++) {
      if (file.get(i) != model.get(i)) {
        return false;
      }
    }
    for (int i = model.dimension(); i < file.dimension(); i++) {
      if (file.get(i) != 1) {
        return false;
      }
    }
    return true;
  }

  private static String describe(
      SafetensorsFile file, Set<String> missing, Set<String> unexpected, List<String> misShaped) {
    StringBuilder sb =
        new StringBuilder("checkpoint ").append(file.path()).append(" does not match the model:");
    section(sb, "missing keys", missing);
    section(sb, "unexpected keys", unexpected);
    section(sb, "mis-shaped keys", misShaped);
    return sb.toString();
  }

  private static void section(StringBuilder sb, String title, Collection<String> keys) {
    if (keys.isEmpty()) {
      return;
    }
    sb.append("\n  ").append(keys.size()).append(' ').append(title).append(':');
    int shown = 0;
    for (String k : keys) {
      if (shown++ == 20) {
        sb.append("\n    ... and ").append(keys.size() - 20).append(" more");
        break;
      }
      sb.append("\n    ").append(k);
    }
  }
}
