package org.perfusionjobs.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.perfusion.TrainingConfig;

class TrainingTemplatesTest {
  @TempDir Path dir;

  @Test
  void aFolderWithoutTheFileUsesTheMethodsTemplates() throws IOException {
    assertEquals(TrainingConfig.DEFAULT_TEMPLATES, StableDiffusionPipeline.trainingTemplates(dir));
  }

  @Test
  void theFoldersFileWinsSkippingCommentsAndBlankLines() throws IOException {
    Files.writeString(dir.resolve(StableDiffusionPipeline.TEMPLATES_FILE), "# world captions\na {}\n\n  a picture of a {}  \n");
    assertEquals(List.of("a {}", "a picture of a {}"), StableDiffusionPipeline.trainingTemplates(dir));
  }

  @Test
  void aTemplateWithoutThePlaceholderIsRefusedByName() throws IOException {
    Files.writeString(dir.resolve(StableDiffusionPipeline.TEMPLATES_FILE), "a {}\na photo\n");
    IOException e = assertThrows(IOException.class, () -> StableDiffusionPipeline.trainingTemplates(dir));
    assertTrue(e.getMessage().contains("'a photo'") && e.getMessage().contains("{}"), e.getMessage());
  }

  @Test
  void anEmptyFileIsRefused() throws IOException {
    Files.writeString(dir.resolve(StableDiffusionPipeline.TEMPLATES_FILE), "# nothing\n");
    IOException e = assertThrows(IOException.class, () -> StableDiffusionPipeline.trainingTemplates(dir));
    assertTrue(e.getMessage().contains("no templates"), e.getMessage());
  }
}
