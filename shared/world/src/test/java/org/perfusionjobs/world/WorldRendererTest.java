package org.perfusionjobs.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class WorldRendererTest {
  private static final int N = WorldRenderer.SIZE;
  private final World world = new World(0.5);

  @Test
  void masksAreTheCoverageThePixelsWereBlendedWith() {
    world
        .samples(21, 400)
        .forEach(
            sample -> {
              int bg = sample.scene().background().rgb();
              List<SceneObject> objects = sample.scene().objects();
              long[][] fullSum = new long[objects.size()][3];
              int[] fullCount = new int[objects.size()];
              for (int y = 0; y < N; y++) {
                for (int x = 0; x < N; x++) {
                  int pixel = sample.image().getRGB(x, y) & 0xffffff;
                  double[] predicted = {channel(bg, 0), channel(bg, 1), channel(bg, 2)};
                  boolean outside = true;
                  for (int k = 0; k < objects.size(); k++) {
                    int m = mask(sample, k, x, y);
                    outside &= m == 0;
                    for (int c = 0; c < 3; c++) {
                      predicted[c] +=
                          (channel(objects.get(k).colour().rgb(), c) - predicted[c]) * m / 255.0;
                      if (m == 255) {
                        fullSum[k][c] += channel(pixel, c);
                      }
                    }
                    fullCount[k] += m == 255 ? 1 : 0;
                  }
                  if (outside) {
                    assertEquals(bg, pixel, "pixel outside every mask is the background");
                  }
                  for (int c = 0; c < 3; c++) {
                    assertEquals(
                        predicted[c],
                        channel(pixel, c),
                        1.0,
                        "pixel = background blended by the masks");
                  }
                }
              }
              for (int k = 0; k < objects.size(); k++) {
                assertTrue(fullCount[k] > 0, "every object covers some pixel fully");
                for (int c = 0; c < 3; c++) {
                  assertEquals(
                      channel(objects.get(k).colour().rgb(), c),
                      fullSum[k][c] / (double) fullCount[k],
                      1e-9);
                }
              }
            });
  }

  @Test
  void everyObjectStaysInsideItsCell() {
    world
        .samples(22, 1000)
        .forEach(
            sample -> {
              for (int k = 0; k < sample.masks().size(); k++) {
                Position p = sample.scene().objects().get(k).position();
                int minX = (int) Math.floor(p.column() * WorldRenderer.CELL);
                int maxX = (int) Math.ceil((p.column() + 1) * WorldRenderer.CELL);
                int minY = (int) Math.floor(p.row() * WorldRenderer.CELL);
                int maxY = (int) Math.ceil((p.row() + 1) * WorldRenderer.CELL);
                for (int y = 0; y < N; y++) {
                  for (int x = 0; x < N; x++) {
                    if (mask(sample, k, x, y) > 0) {
                      assertTrue(
                          x >= minX && x < maxX && y >= minY && y < maxY,
                          "pixel " + x + "," + y + " of " + p + " object outside its cell");
                    }
                  }
                }
              }
            });
  }

  @Test
  void twoObjectsNeverOverlapAndStandAsTheRelationSays() {
    List<Sample> pairs = world.samples(23, 600).filter(s -> s.masks().size() == 2).toList();
    assertTrue(pairs.size() > 200);
    for (Sample sample : pairs) {
      for (int y = 0; y < N; y++) {
        for (int x = 0; x < N; x++) {
          assertEquals(
              0,
              Math.min(mask(sample, 0, x, y), mask(sample, 1, x, y)),
              "masks overlap at " + x + "," + y);
        }
      }
      double[] a = centroid(sample, 0);
      double[] b = centroid(sample, 1);
      double dx = b[0] - a[0];
      double dy = b[1] - a[1];
      // Cells are 21 px apart and the jitter is at most 3 px, so the named axis clearly dominates.
      boolean holds =
          switch (sample.scene().relation().orElseThrow()) {
            case LEFT_OF -> dx > 10 && Math.abs(dy) < dx;
            case RIGHT_OF -> -dx > 10 && Math.abs(dy) < -dx;
            case ABOVE -> dy > 10 && Math.abs(dx) < dy;
            case BELOW -> -dy > 10 && Math.abs(dx) < -dy;
          };
      assertTrue(
          holds, sample.scene() + " centres " + a[0] + "," + a[1] + " / " + b[0] + "," + b[1]);
    }
  }

  @Test
  void coloursAreFarApartFromEachOtherAndFromBackgrounds() {
    List<Integer> rgbs = new ArrayList<>();
    Stream.of(Colour.values()).forEach(c -> rgbs.add(c.rgb()));
    Stream.of(Background.values()).forEach(b -> rgbs.add(b.rgb()));
    double min = Double.MAX_VALUE;
    for (int i = 0; i < rgbs.size(); i++) {
      for (int j = i + 1; j < rgbs.size(); j++) {
        double d = 0;
        for (int c = 0; c < 3; c++) {
          d += Math.pow(channel(rgbs.get(i), c) - channel(rgbs.get(j), c), 2);
        }
        min = Math.min(min, Math.sqrt(d));
      }
    }
    assertTrue(min >= 90, "closest pair is " + min + " apart");
  }

  private static double[] centroid(Sample sample, int k) {
    double sum = 0;
    double sx = 0;
    double sy = 0;
    for (int y = 0; y < N; y++) {
      for (int x = 0; x < N; x++) {
        int m = mask(sample, k, x, y);
        sum += m;
        sx += m * (x + 0.5);
        sy += m * (y + 0.5);
      }
    }
    return new double[] {sx / sum, sy / sum};
  }

  private static int mask(Sample sample, int k, int x, int y) {
    BufferedImage mask = sample.masks().get(k);
    return mask.getRaster().getSample(x, y, 0);
  }

  private static int channel(int rgb, int c) {
    return (rgb >> (16 - 8 * c)) & 0xff;
  }
}
