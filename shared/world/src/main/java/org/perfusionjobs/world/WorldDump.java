package org.perfusionjobs.world;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * Writes samples to a folder for looking at: {@code NNNN.png}, {@code NNNN_mask.png} (the first
 * object, named as the trainer expects a mask), {@code NNNN_2_mask.png} (the second object, a name
 * the trainer skips) and {@code captions.txt} (file, tab, caption per line).
 *
 * <p>Usage: {@code WorldDump OUT_DIR [N=64] [SEED=0] [TWO_OBJECT_FRACTION=0.3]}
 */
public final class WorldDump {
  private WorldDump() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1 || args.length > 4) {
      System.err.println("usage: WorldDump OUT_DIR [N=64] [SEED=0] [TWO_OBJECT_FRACTION=0.3]");
      System.exit(2);
    }
    Path out = Path.of(args[0]);
    int n = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    long seed = args.length > 2 ? Long.parseLong(args[2]) : 0;
    double fraction =
        args.length > 3 ? Double.parseDouble(args[3]) : World.DEFAULT_TWO_OBJECT_FRACTION;
    Files.createDirectories(out);
    List<String> lines = new ArrayList<>();
    int[] index = {0};
    new World(fraction)
        .samples(seed, n)
        .forEach(
            sample -> {
              String stem = String.format("%04d", index[0]++);
              write(sample.image(), out.resolve(stem + ".png"));
              write(sample.masks().get(0), out.resolve(stem + "_mask.png"));
              if (sample.masks().size() > 1) {
                write(sample.masks().get(1), out.resolve(stem + "_2_mask.png"));
              }
              lines.add(stem + ".png\t" + sample.caption());
            });
    Files.write(out.resolve("captions.txt"), lines);
    System.out.println("wrote " + n + " samples to " + out);
  }

  private static void write(BufferedImage image, Path file) {
    try {
      ImageIO.write(image, "png", file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
