package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No line of main code is longer than 120 characters (google-java-format, which the build checks,
 * keeps code at 100 columns and reflows long strings; this catches what it cannot break).
 */
class SourceLinesTest {
  static final int MAX = 120;
  static final Path REPO =
      Path.of(System.getProperty("perfusion.models", "../../models")).toAbsolutePath().getParent();

  @Test
  void noLineOfMainCodeIsLongerThan120Characters() throws IOException {
    List<Path> sources = new ArrayList<>();
    for (String top : List.of("services", "shared", "infra")) {
      try (Stream<Path> s = Files.walk(REPO.resolve(top))) {
        s.filter(p -> p.toString().endsWith(".java") && p.toString().contains("/src/main/java/"))
            .forEach(sources::add);
      }
    }
    assertTrue(sources.size() > 100, "main sources found under " + REPO + ": " + sources.size());
    List<String> over = new ArrayList<>();
    for (Path p : sources) {
      List<String> lines = Files.readAllLines(p, StandardCharsets.UTF_8);
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).length() > MAX) {
          over.add(REPO.relativize(p) + ":" + (i + 1) + " (" + lines.get(i).length() + ")");
        }
      }
    }
    assertEquals(
        List.of(),
        over,
        "lines over " + MAX + " characters (run mvn spotless:apply, then shorten what is left)");
  }
}
