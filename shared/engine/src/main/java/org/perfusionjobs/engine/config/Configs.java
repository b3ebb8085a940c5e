package org.perfusionjobs.engine.config;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.perfusionjobs.engine.io.ModelLoadException;

/**
 * Reads a component's {@code config.json} into a record. Unknown keys are allowed (diffusers adds
 * many that do not change the architecture); each record validates what it uses in its compact
 * constructor with messages that name the values.
 */
public final class Configs {
  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  private Configs() {}

  public static ObjectMapper json() {
    return JSON;
  }

  public static <T> T read(Path file, Class<T> type) throws ModelLoadException {
    if (!Files.isRegularFile(file)) {
      throw new ModelLoadException("missing config file " + file);
    }
    try {
      return JSON.readValue(file.toFile(), type);
    } catch (IOException | IllegalArgumentException e) {
      Throwable cause = e.getCause() instanceof IllegalArgumentException ? e.getCause() : e;
      throw new ModelLoadException("invalid config " + file + ": " + cause.getMessage(), e);
    }
  }
}
