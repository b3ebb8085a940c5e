package org.perfusionjobs.basemodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;

/** Object weights from the world's masks: values, pooling to latent pixels, and refusals. */
class ObjectWeightsTest {
  private final List<Sample> samples = new World(0.5, 0.3).samples(9, 6).toList();

  @Test
  void imagePixelsAreOneOnTheBackgroundAndWOnFullCover() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray w = ObjectWeights.of(samples, 10f, 1, m);
      assertEquals(new Shape(6, 1, 64, 64), w.getShape());
      float[] v = w.toFloatArray();
      for (int i = 0; i < samples.size(); i++) {
        float[] c = ObjectWeights.coverage(samples.get(i));
        for (int p = 0; p < c.length; p++) {
          assertEquals(1 + 9 * c[p], v[i * 4096 + p], 1e-5f, "sample " + i + " pixel " + p);
        }
        // Each sample has an object: some pixels are fully covered, most are background.
        float max = 0;
        int background = 0;
        for (float x : c) {
          max = Math.max(max, x);
          background += x == 0 ? 1 : 0;
        }
        assertEquals(1f, max, 1e-6f, "sample " + i);
        assertTrue(background > 2048, "sample " + i + ": " + background + " background pixels");
      }
    }
  }

  /**
   * Pooling averages coverage: 4x4 blocks keep the mean weight of the image exactly (to float
   * error).
   */
  @Test
  void latentPixelsAverageTheirBlocks() {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] full = ObjectWeights.of(samples, 5f, 1, m).toFloatArray();
      NDArray pooled = ObjectWeights.of(samples, 5f, 4, m);
      assertEquals(new Shape(6, 1, 16, 16), pooled.getShape());
      float[] p = pooled.toFloatArray();
      for (int i = 0; i < samples.size(); i++) {
        for (int by = 0; by < 16; by++) {
          for (int bx = 0; bx < 16; bx++) {
            double sum = 0;
            for (int y = 0; y < 4; y++) {
              for (int x = 0; x < 4; x++) {
                sum += full[i * 4096 + (by * 4 + y) * 64 + bx * 4 + x];
              }
            }
            assertEquals(
                sum / 16,
                p[i * 256 + by * 16 + bx],
                1e-5,
                "sample " + i + " block " + by + "," + bx);
          }
        }
      }
    }
  }

  @Test
  void refusesWeightsBelowOneAndFactorsThatDoNotDivideTheSide() {
    try (NDManager m = NDManager.newBaseManager()) {
      assertTrue(
          assertThrows(IllegalArgumentException.class, () -> ObjectWeights.of(samples, 0.5f, 1, m))
              .getMessage()
              .contains("object weight 0.5"));
      assertTrue(
          assertThrows(IllegalArgumentException.class, () -> ObjectWeights.of(samples, 2f, 5, m))
              .getMessage()
              .contains("factor 5"));
    }
  }
}
