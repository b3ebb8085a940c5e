package org.perfusionjobs.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.vae.AutoencoderKL;
import org.perfusionjobs.engine.vae.AutoencoderKLConfig;
import org.perfusionjobs.engine.vae.DiagonalGaussian;

/** A tiny VAE learns to reconstruct synthetic images (coloured squares on flat backgrounds). */
class VaeTrainerTest {
  static final int SIZE = 32;
  static final int STEPS = 80;
  static final int BATCH = 4;
  @TempDir Path dir;

  static AutoencoderKLConfig tinyConfig() {
    return new AutoencoderKLConfig(
        3,
        3,
        List.of("DownEncoderBlock2D", "DownEncoderBlock2D"),
        List.of("UpDecoderBlock2D", "UpDecoderBlock2D"),
        List.of(16, 32),
        1,
        "silu",
        4,
        8,
        SIZE,
        0.18215f);
  }

  /**
   * n images (3, SIZE, SIZE) in [-1, 1], flat background with one or two coloured squares, as CHW
   * floats.
   */
  static float[][] syntheticImages(int n, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float[][] out = new float[n][];
    for (int i = 0; i < n; i++) {
      float[] img = new float[3 * SIZE * SIZE];
      float[] bg = {
        (float) rnd.nextDouble(-1, 1), (float) rnd.nextDouble(-1, 1), (float) rnd.nextDouble(-1, 1)
      };
      for (int c = 0; c < 3; c++) {
        for (int p = 0; p < SIZE * SIZE; p++) {
          img[c * SIZE * SIZE + p] = bg[c];
        }
      }
      int squares = 1 + rnd.nextInt(2);
      for (int s = 0; s < squares; s++) {
        int side = 6 + rnd.nextInt(12);
        int x0 = rnd.nextInt(SIZE - side);
        int y0 = rnd.nextInt(SIZE - side);
        float[] col = {
          (float) rnd.nextDouble(-1, 1),
          (float) rnd.nextDouble(-1, 1),
          (float) rnd.nextDouble(-1, 1)
        };
        for (int c = 0; c < 3; c++) {
          for (int y = y0; y < y0 + side; y++) {
            for (int x = x0; x < x0 + side; x++) {
              img[c * SIZE * SIZE + y * SIZE + x] = col[c];
            }
          }
        }
      }
      out[i] = img;
    }
    return out;
  }

  /** The first BATCH images, concatenated as one (BATCH, 3, SIZE, SIZE) array. */
  static float[] firstBatch(float[][] images) {
    float[] batch = new float[BATCH * 3 * SIZE * SIZE];
    for (int b = 0; b < BATCH; b++) {
      System.arraycopy(images[b], 0, batch, b * images[b].length, images[b].length);
    }
    return batch;
  }

  @Test
  void mseModeGivesFiniteLossesAndKlTerm() {
    float[][] images = syntheticImages(BATCH, 3);
    float[] batch = firstBatch(images);
    try (NDManager weights = NDManager.newBaseManager();
        NDManager data = NDManager.newBaseManager()) {
      AutoencoderKL vae = new AutoencoderKL(tinyConfig());
      vae.initRandom(weights, DataType.FLOAT32, 1);
      VaeTrainer.Options opts =
          new VaeTrainer.Options(1e-3f, 0f, 1e-6f, VaeTrainer.Reconstruction.MSE, 5);
      try (VaeTrainer trainer = new VaeTrainer(vae, opts)) {
        NDArray x = data.create(batch, new Shape(BATCH, 3, SIZE, SIZE));
        for (int i = 0; i < 3; i++) {
          VaeTrainer.StepLoss l = trainer.step(x);
          assertTrue(
              Float.isFinite(l.total()) && l.reconstruction() > 0 && l.kl() >= 0,
              "step " + i + ": " + l);
          assertEquals(l.reconstruction() + 1e-6f * l.kl(), l.total(), 1e-6f);
        }
        assertEquals(3, trainer.optimizer().steps());
      }
    }
  }

  /**
   * The weighted reconstruction term equals mean(w |decode(z) - x|) / mean(w), recomputed here from
   * the same seeded posterior sample (tolerance 1e-5 relative); uniform weights give the unweighted
   * value; a wrong weight shape is refused with both shapes named.
   */
  @Test
  void weightedL1MatchesADirectComputation() {
    float[][] images = syntheticImages(BATCH, 11);
    float[] batch = firstBatch(images);
    float[] w = new float[BATCH * SIZE * SIZE];
    SplittableRandom rnd = new SplittableRandom(3);
    for (int i = 0; i < w.length; i++) {
      w[i] = 1 + 9 * (float) rnd.nextDouble();
    }
    long seed = 5;
    try (NDManager weights = NDManager.newBaseManager();
        NDManager data = NDManager.newBaseManager()) {
      NDArray x = data.create(batch, new Shape(BATCH, 3, SIZE, SIZE));
      NDArray pixelWeights = data.create(w, new Shape(BATCH, 1, SIZE, SIZE));
      float[] got = new float[2];
      float[] expected = new float[2];
      for (int run = 0; run < 2; run++) {
        AutoencoderKL vae = new AutoencoderKL(tinyConfig());
        vae.initRandom(weights, DataType.FLOAT32, 1);
        NDArray wRun = run == 0 ? pixelWeights : data.full(new Shape(BATCH, 1, SIZE, SIZE), 4f);
        // What the first step computes, by hand: the engine seed it sets, the posterior sample, the
        // decoder.
        data.getEngine().setRandomSeed((int) (seed * 31));
        DiagonalGaussian posterior = vae.encode(x);
        NDArray z =
            posterior.sample(
                data.randomNormal(posterior.mean().getShape(), posterior.mean().getDataType()));
        NDArray err = vae.decode(z).sub(x).abs();
        expected[run] =
            run == 0
                ? err.mul(pixelWeights).mean().div(pixelWeights.mean()).getFloat()
                : err.mean().getFloat();
        try (VaeTrainer trainer =
            new VaeTrainer(
                vae,
                new VaeTrainer.Options(1e-3f, 0f, 1e-6f, VaeTrainer.Reconstruction.L1, seed))) {
          got[run] = trainer.step(x, wRun).reconstruction();
          if (run == 0) {
            NDArray wrong = data.ones(new Shape(BATCH, 1, SIZE / 2, SIZE / 2));
            IllegalArgumentException e =
                Assertions.assertThrows(
                    IllegalArgumentException.class, () -> trainer.step(x, wrong));
            assertTrue(
                e.getMessage().contains("(4, 1, 16, 16)")
                    && e.getMessage().contains("(4, 3, 32, 32)"),
                e.getMessage());
          }
        }
      }
      assertEquals(expected[0], got[0], 1e-5f * expected[0], "weighted L1");
      assertEquals(expected[1], got[1], 1e-5f * expected[1], "uniform weights = plain L1");
      assertTrue(
          Math.abs(got[0] - got[1]) > 1e-4f * got[1],
          "random weights should change the term: " + got[0] + " vs " + got[1]);
    }
  }

  @Test
  void lossFallsNoLeakAndSavedFolderLoads() throws Exception {
    float[][] images = syntheticImages(8, 7);
    try (NDManager weights = NDManager.newBaseManager();
        NDManager data = NDManager.newBaseManager()) {
      AutoencoderKL vae = new AutoencoderKL(tinyConfig());
      vae.initRandom(weights, DataType.FLOAT32, 42);
      List<Float> losses = new ArrayList<>();
      List<Integer> arrayCounts = new ArrayList<>();
      long start;
      long afterWarmup = 0;
      VaeTrainer.Options opts = VaeTrainer.Options.defaults().withLearningRate(5e-3f);
      try (VaeTrainer trainer = new VaeTrainer(vae, opts)) {
        start = System.nanoTime();
        long[] t5 = new long[1];
        trainer.train(
            step -> {
              float[] batch = new float[BATCH * 3 * SIZE * SIZE];
              for (int b = 0; b < BATCH; b++) {
                float[] img = images[(step * BATCH + b) % images.length];
                System.arraycopy(img, 0, batch, b * img.length, img.length);
              }
              return data.create(batch, new Shape(BATCH, 3, SIZE, SIZE));
            },
            STEPS,
            (step, loss) -> {
              losses.add(loss.reconstruction());
              arrayCounts.add(weights.getManagedArrays().size());
              if (step == 5) {
                t5[0] = System.nanoTime();
              }
            });
        afterWarmup = t5[0];
        assertEquals(STEPS, trainer.steps());
      }
      long end = System.nanoTime();
      double first =
          losses.subList(0, 10).stream().mapToDouble(Float::doubleValue).average().orElseThrow();
      double last =
          losses.subList(STEPS - 10, STEPS).stream()
              .mapToDouble(Float::doubleValue)
              .average()
              .orElseThrow();
      System.out.printf(
          "VaeTrainerTest: %d steps, %.1f ms/step overall, %.1f ms/step after 5 warm-up steps; L1"
              + " first10 %.4f last10 %.4f; weight arrays %s%n",
          STEPS,
          (end - start) / 1e6 / STEPS,
          (end - afterWarmup) / 1e6 / (STEPS - 5),
          first,
          last,
          arrayCounts.subList(0, 3) + ".." + arrayCounts.get(STEPS - 1));
      // A working trainer leaves 0.43 of the first loss on this project's dev CPU and 0.52 on the
      // CI machine (80 steps; the last batches oscillate at this rate); a trainer that does not
      // learn stays near 1. The bound sits between, with room for the CPUs' different rounding.
      assertTrue(
          last < 0.65 * first,
          "reconstruction loss should fall by over a third: first 10 "
              + first
              + ", last 10 "
              + last
              + "; all "
              + losses);
      // The optimiser's moments are freed by close(); the count must be flat across steps.
      assertEquals(
          arrayCounts.get(1),
          arrayCounts.get(STEPS - 1),
          "weight manager array count grew: " + arrayCounts);
      for (Parameter p : vae.namedParameters().values()) {
        assertFalse(p.get().isNaN().any().getBoolean(), "NaN in parameter " + p.name());
      }

      Path out = dir.resolve("vae");
      VaeTrainer.save(vae, out);
      try (NDManager loadedManager = NDManager.newBaseManager()) {
        AutoencoderKL loaded =
            AutoencoderKL.load(out, loadedManager, DataType.FLOAT32, Device.cpu());
        assertEquals(vae.config(), loaded.config());
        float[] batch = firstBatch(images);
        NDArray x = data.create(batch, new Shape(BATCH, 3, SIZE, SIZE));
        NDArray a = vae.decode(vae.encode(x).mean());
        NDArray b = loaded.decode(loaded.encode(x).mean());
        float maxDiff = a.sub(b).abs().max().getFloat();
        assertTrue(maxDiff < 1e-5f, "loaded model reconstructs differently: max |diff| " + maxDiff);
        float recon = a.sub(x).abs().mean().getFloat();
        assertTrue(
            recon < first,
            "trained reconstruction " + recon + " should beat the first steps' " + first);
      }
    }
  }
}
