package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingTemplatesTest {
  @TempDir Path dir;

  @Test
  void aFolderWithoutTheFileUsesTheMethodsTemplates() throws IOException {
    assertEquals(TrainingConfig.DEFAULT_TEMPLATES, TrainingTemplates.read(dir));
  }

  @Test
  void theFoldersFileWinsSkippingCommentsAndBlankLines() throws IOException {
    Files.writeString(
        dir.resolve(TrainingTemplates.FILE_NAME),
        "# world captions\na {}\n\n  a picture of a {}  \n");
    assertEquals(List.of("a {}", "a picture of a {}"), TrainingTemplates.read(dir));
  }

  @Test
  void aTemplateWithoutThePlaceholderIsRefusedByName() throws IOException {
    Files.writeString(dir.resolve(TrainingTemplates.FILE_NAME), "a {}\na photo\n");
    IOException e = assertThrows(IOException.class, () -> TrainingTemplates.read(dir));
    assertTrue(
        e.getMessage().contains("'a photo'") && e.getMessage().contains("{}"), e.getMessage());
  }

  @Test
  void anEmptyFileIsRefused() throws IOException {
    Files.writeString(dir.resolve(TrainingTemplates.FILE_NAME), "# nothing\n");
    IOException e = assertThrows(IOException.class, () -> TrainingTemplates.read(dir));
    assertTrue(e.getMessage().contains("no templates"), e.getMessage());
  }
}
