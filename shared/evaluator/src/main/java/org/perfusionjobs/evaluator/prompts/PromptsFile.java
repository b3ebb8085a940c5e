package org.perfusionjobs.evaluator.prompts;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A prompts file: one prompt per line, read by a {@link PromptParser}; blank lines and lines
 * starting with {@code #} are skipped. A prompt repeated on k lines is generated k times (image i
 * uses seed + i, so each copy gets its own noise).
 */
public final class PromptsFile {
  private PromptsFile() {}

  public static List<EvalPrompt> read(Path file, PromptParser parser) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException("--prompts-file: " + file + " is not a file");
    }
    List<String> lines = Files.readAllLines(file);
    List<EvalPrompt> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      try {
        out.add(parser.parse(line));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "--prompts-file " + file + " line " + (i + 1) + ": " + e.getMessage(), e);
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(
          "--prompts-file " + file + ": no prompts; write one per line, {} for the concept's word");
    }
    return out;
  }
}
