package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.perfusionjobs.engine.io.SafetensorsFile;

/** Test data under the {@code perfusion.testdata} folder; missing data fails, never skips. */
final class TestData {
  private TestData() {}

  static Path path(String name) {
    String root = System.getProperty("perfusion.testdata");
    if (root == null || root.isBlank()) {
      throw new IllegalStateException("system property perfusion.testdata is not set (Surefire sets it)");
    }
    Path dir = Path.of(root).resolve(name);
    if (!Files.isDirectory(dir)) {
      throw new IllegalStateException("test data folder " + dir + " is missing");
    }
    return dir;
  }

  static SchedulerConfig tinyConfig() throws IOException {
    return SchedulerConfig.load(path("sd-tiny-ref").resolve("scheduler/scheduler_config.json"));
  }

  /** Every tensor of a reference file, e.g. "ddim_eta0". */
  static Map<String, NDArray> reference(String file, NDManager manager) throws IOException {
    try (SafetensorsFile f = SafetensorsFile.open(path("sd-tiny-ref").resolve("reference/" + file + ".safetensors"))) {
      return f.readAll(manager);
    }
  }

  /** max |actual - expected|. */
  static float maxAbsDiff(NDArray actual, NDArray expected) {
    return actual.sub(expected).abs().max().getFloat();
  }

  static float maxAbs(NDArray x) {
    return x.abs().max().getFloat();
  }
}
