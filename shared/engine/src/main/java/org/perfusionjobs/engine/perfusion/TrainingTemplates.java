package org.perfusionjobs.engine.perfusion;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Perfusion training prompts that suit a model's caption language: the model folder's {@value
 * #FILE_NAME} when present (a model trained on other captions than photos, such as the project's
 * world model, ships its own), else the method's photo templates.
 */
public final class TrainingTemplates {
  /**
   * File in a model folder with its training prompts, one per line, each with {} for the concept
   * word.
   */
  public static final String FILE_NAME = "perfusion_templates.txt";

  private TrainingTemplates() {}

  /** The templates of the model folder {@code root}; '#' starts a comment line. */
  public static List<String> read(Path root) throws IOException {
    Path file = root.resolve(FILE_NAME);
    if (!Files.isRegularFile(file)) {
      return TrainingConfig.DEFAULT_TEMPLATES;
    }
    List<String> lines =
        Files.readAllLines(file).stream()
            .map(String::strip)
            .filter(l -> !l.isEmpty() && !l.startsWith("#"))
            .toList();
    for (String l : lines) {
      if (!l.contains("{}")) {
        throw new IOException(file + ": template '" + l + "' has no {} for the concept word");
      }
    }
    if (lines.isEmpty()) {
      throw new IOException(file + " lists no templates");
    }
    return lines;
  }
}
