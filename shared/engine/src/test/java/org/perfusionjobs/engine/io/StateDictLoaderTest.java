package org.perfusionjobs.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Module;

class StateDictLoaderTest {
  @TempDir Path dir;

  static final class Net extends Module {
    final Linear proj = child("proj", new Linear(3, 2, true));
    final Linear head = child("head", new Linear(2, 2, false));
  }

  @Test
  void fillsEveryParameterConvertingDtype() throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> t = full(m);
      t.replaceAll((k, v) -> v.toType(DataType.FLOAT16, false));
      Path file = write(t);
      Net net = new Net();
      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        StateDictLoader.strict().load(net, f, m, DataType.FLOAT32, Device.cpu());
      }
      assertEquals(DataType.FLOAT32, net.proj.weight.get().getDataType());
      assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, net.proj.weight.get().toFloatArray());
    }
  }

  @Test
  void namesMissingUnexpectedAndMisShapedKeysInOneError() throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> t = full(m);
      t.remove("proj.bias");
      t.put("proj.extra", m.zeros(new Shape(1)));
      t.put("head.weight", m.zeros(new Shape(3, 2)));
      Path file = write(t);
      ModelLoadException e;
      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        e =
            assertThrows(
                ModelLoadException.class,
                () ->
                    StateDictLoader.strict().load(new Net(), f, m, DataType.FLOAT32, Device.cpu()));
      }
      String msg = e.getMessage();
      assertTrue(msg.contains("missing keys") && msg.contains("proj.bias"), msg);
      assertTrue(msg.contains("unexpected keys") && msg.contains("proj.extra"), msg);
      assertTrue(msg.contains("head.weight is (3, 2), model expects (2, 2)"), msg);
    }
  }

  @Test
  void renamesAndIgnoresDeclaredKeys() throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> t = new LinkedHashMap<>();
      full(m).forEach((k, v) -> t.put(k.replace("proj.", "legacy_proj."), v));
      t.put("position_ids", m.arange(0, 77, 1, DataType.INT64));
      Path file = write(t);
      Net net = new Net();
      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        new StateDictLoader(k -> k.replace("legacy_proj.", "proj."), Set.of("position_ids"))
            .load(net, f, m, DataType.FLOAT32, Device.cpu());
      }
      assertArrayEquals(new float[] {0, 1}, net.proj.bias.get().toFloatArray());
    }
  }

  @Test
  void acceptsOneByOneConvWeightsForLinear() throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> t = full(m);
      t.put("proj.weight", t.get("proj.weight").reshape(2, 3, 1, 1));
      Net net = new Net();
      try (SafetensorsFile f = SafetensorsFile.open(write(t))) {
        StateDictLoader.strict().load(net, f, m, DataType.FLOAT32, Device.cpu());
      }
      assertEquals(new Shape(2, 3), net.proj.weight.get().getShape());
    }
  }

  private Map<String, NDArray> full(NDManager m) {
    Map<String, NDArray> t = new LinkedHashMap<>();
    t.put("proj.weight", m.arange(6f).reshape(2, 3));
    t.put("proj.bias", m.arange(2f));
    t.put("head.weight", m.ones(new Shape(2, 2)));
    return t;
  }

  private Path write(Map<String, NDArray> t) throws IOException {
    Path file = dir.resolve("w" + System.nanoTime() + ".safetensors");
    SafetensorsWriter.write(file, t, Map.of());
    return file;
  }
}
