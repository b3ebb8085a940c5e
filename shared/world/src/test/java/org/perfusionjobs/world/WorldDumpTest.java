package org.perfusionjobs.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorldDumpTest {
  @Test
  void writesImagesMasksAndCaptions(@TempDir Path dir) throws Exception {
    WorldDump.main(new String[] {dir.toString(), "6", "3", "1"});
    List<String> lines = Files.readAllLines(dir.resolve("captions.txt"));
    List<Sample> samples = new World(1).samples(3, 6).toList();
    assertEquals(6, lines.size());
    for (int i = 0; i < 6; i++) {
      String stem = String.format("%04d", i);
      assertEquals(stem + ".png\t" + samples.get(i).caption(), lines.get(i));
      assertEquals(64, ImageIO.read(dir.resolve(stem + ".png").toFile()).getWidth());
      assertTrue(Files.isRegularFile(dir.resolve(stem + "_mask.png")));
      assertTrue(Files.isRegularFile(dir.resolve(stem + "_2_mask.png")));
    }
  }
}
