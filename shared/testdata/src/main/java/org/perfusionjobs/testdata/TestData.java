package org.perfusionjobs.testdata;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The one place tests find the repository's reference data ({@code shared/testdata}). Surefire sets
 * {@code perfusion.testdata}; without it (an IDE run) the folder is found by walking up from the
 * working directory. Missing data fails loudly: a test that needs it must never skip.
 */
public final class TestData {
  public static final String PROPERTY = "perfusion.testdata";

  private TestData() {}

  /** The data folder itself. */
  public static Path root() {
    String configured = System.getProperty(PROPERTY);
    if (configured != null && !configured.isBlank()) {
      return requireDirectory(Path.of(configured).toAbsolutePath().normalize());
    }
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path candidate = dir.resolve("shared/testdata/sd-tiny-ref");
      if (Files.isDirectory(candidate)) {
        return candidate.getParent();
      }
    }
    throw new IllegalStateException(
        "test data folder shared/testdata not found above "
            + Path.of("").toAbsolutePath()
            + "; set -D"
            + PROPERTY);
  }

  /**
   * A folder or file under the data root, e.g. {@code "sd-tiny-ref"} or {@code
   * "sd15-layout/unet/config.json"}.
   */
  public static Path path(String name) {
    Path p = root().resolve(name).normalize();
    if (!Files.exists(p)) {
      throw new IllegalStateException(
          "test data " + p + " is missing; it ships in shared/testdata");
    }
    return p;
  }

  /** The tiny SD v1.x pipeline with diffusers reference outputs. */
  public static Path sdTinyRef() {
    return path("sd-tiny-ref");
  }

  /** Config files of SD v1.5 (no weights), for layout tests. */
  public static Path sd15Layout() {
    return path("sd15-layout");
  }

  private static Path requireDirectory(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalStateException(
          "test data folder " + dir + " is missing; it ships in shared/testdata");
    }
    return dir;
  }
}
