package org.perfusionjobs.engine.io;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds a component's weights: {@code <name>.safetensors}, else {@code <name>.fp16.safetensors}.
 */
public final class WeightFiles {
  private WeightFiles() {}

  public static Path find(Path dir, String name) throws ModelLoadException {
    for (String candidate : new String[] {name + ".safetensors", name + ".fp16.safetensors"}) {
      Path p = dir.resolve(candidate);
      if (Files.isRegularFile(p)) {
        return p;
      }
    }
    throw new ModelLoadException(
        dir
            + " has no "
            + name
            + ".safetensors (or "
            + name
            + ".fp16.safetensors); .bin checkpoints are not supported: convert them to"
            + " safetensors");
  }
}
