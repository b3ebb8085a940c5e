package org.perfusionjobs.engine.pipeline;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates ../shared/testdata (system property {@code perfusion.testdata}); fails loudly if absent. */
final class TestData {
  private TestData() {}

  static Path path(String name) {
    String root = System.getProperty("perfusion.testdata", "../../../shared/testdata");
    Path p = Path.of(root).resolve(name).toAbsolutePath().normalize();
    if (!Files.isDirectory(p)) {
      throw new IllegalStateException("test data folder " + p + " is missing; set -Dperfusion.testdata");
    }
    return p;
  }
}
