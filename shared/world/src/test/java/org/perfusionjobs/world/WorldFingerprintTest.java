package org.perfusionjobs.world;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The world's default streams are frozen: the bundled model, its evaluator and every measured
 * figure were made from them. The digests were taken from the world before hidden patterns beyond
 * stripes existed (commit 7741c84), so adding patterns must leave these samples bit-identical.
 */
class WorldFingerprintTest {
  @Test
  void thePlainWorldIsUnchanged() throws Exception {
    assertEquals(
        "f921c1260ea56d2265e16b01a640f0180732c73c9ea25f474a55898f4db1c047",
        digest(new World(), 11, 300));
  }

  @Test
  void theStripedTrainingWorldIsUnchanged() throws Exception {
    assertEquals(
        "293df5db742082061c5a7f155653414c6b89331818ab4b132eb550a23c46d713",
        digest(new World(0.35, 0.25, 0.5), 12, 300));
  }

  static String digest(World world, long seed, int n) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    world
        .samples(seed, n)
        .forEach(
            s -> {
              md.update(s.caption().getBytes(StandardCharsets.UTF_8));
              md.update(s.scene().toString().getBytes(StandardCharsets.UTF_8));
              update(md, s.image());
              s.masks().forEach(m -> update(md, m));
            });
    return HexFormat.of().formatHex(md.digest());
  }

  private static void update(MessageDigest md, BufferedImage image) {
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        int v = image.getRGB(x, y);
        md.update(new byte[] {(byte) (v >> 16), (byte) (v >> 8), (byte) v});
      }
    }
  }
}
