package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.testdata.TestData;

/** The scheduler tests' view of the reference data: its config and reference tensors. */
final class ReferenceData {
  private ReferenceData() {}

  static Path path(String name) {
    return TestData.path(name);
  }

  static SchedulerConfig tinyConfig() throws IOException {
    return SchedulerConfig.load(path("sd-tiny-ref").resolve("scheduler/scheduler_config.json"));
  }

  /** Every tensor of a reference file, e.g. "ddim_eta0". */
  static Map<String, NDArray> reference(String file, NDManager manager) throws IOException {
    try (SafetensorsFile f =
        SafetensorsFile.open(path("sd-tiny-ref").resolve("reference/" + file + ".safetensors"))) {
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
