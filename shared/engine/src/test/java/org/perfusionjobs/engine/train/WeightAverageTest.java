package org.perfusionjobs.engine.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;
import org.perfusionjobs.engine.scheduler.NoiseSchedule;
import org.perfusionjobs.engine.scheduler.SchedulerConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionModel;

/**
 * The UNet's weight average: its recurrence against a direct computation, its memory, and saving
 * it.
 */
class WeightAverageTest {
  @TempDir Path dir;

  @BeforeAll
  static void locate() {
    DiffusionTrainerTest.locate();
  }

  @Test
  void decayRampsUpToItsCap() {
    try (NDManager m = NDManager.newBaseManager()) {
      UNet2DConditionModel un = DiffusionTrainerTest.unet(m, 1);
      try (WeightAverage avg = new WeightAverage(un.namedParameters(), 0.999f)) {
        assertEquals(0.1f, avg.decayAt(0), 1e-7f); // (1 + 0) / (10 + 0)
        assertEquals(0.5f, avg.decayAt(8), 1e-7f); // 9 / 18
        assertEquals(0.99f, avg.decayAt(890), 1e-6f); // 891 / 900
        assertEquals(0.999f, avg.decayAt(100_000), 0f);
      }
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> new WeightAverage(un.namedParameters(), 1f));
      assertTrue(e.getMessage().contains("decay 1.0"), e.getMessage());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /**
   * Ten real optimiser steps on the tiny UNet; after each, the average of every weight is checked
   * against the same recurrence run in double precision on the weights' values read back (max
   * |diff| 1e-6: float32 rounding of a convex combination of values of order 1).
   */
  @Test
  void followsTheRecurrenceAndHoldsOneArrayPerWeight() throws Exception {
    NoiseSchedule schedule = NoiseSchedule.of(SchedulerConfig.stableDiffusionV1());
    try (NDManager weights = NDManager.newBaseManager();
        NDManager data = NDManager.newBaseManager();
        ClipTokenizer tok = ClipTokenizer.load(DiffusionTrainerTest.ref.resolve("tokenizer"))) {
      var te = DiffusionTrainerTest.textEncoder(weights, 3);
      UNet2DConditionModel un = DiffusionTrainerTest.unet(weights, 4);
      NDArray latents =
          new NoiseGenerator(7)
              .normal(
                  new Shape(
                      DiffusionTrainerTest.N,
                      4,
                      DiffusionTrainerTest.LATENT,
                      DiffusionTrainerTest.LATENT),
                  data);
      Map<String, double[]> expected = new HashMap<>();
      un.namedParameters().forEach((k, p) -> expected.put(k, toDouble(p.get().toFloatArray())));
      DiffusionTrainer.Options opts = DiffusionTrainer.Options.defaults().withLearningRate(1e-2f);
      try (DiffusionTrainer trainer = new DiffusionTrainer(te, tok, un, schedule, opts);
          WeightAverage avg = new WeightAverage(un.namedParameters(), 0.6f)) {
        int arrays = -1;
        for (int s = 0; s < 10; s++) {
          trainer.step(DiffusionTrainerTest.batch(latents, s), DiffusionTrainerTest.captions(s), s);
          avg.update();
          double d = Math.min(0.6, (1.0 + s) / (10.0 + s));
          double maxDiff = 0;
          double moved = 0;
          for (Map.Entry<String, Parameter> e : un.namedParameters().entrySet()) {
            float[] w = e.getValue().get().toFloatArray();
            double[] want = expected.get(e.getKey());
            float[] got = avg.averages().get(e.getKey()).toFloatArray();
            for (int i = 0; i < w.length; i++) {
              want[i] = d * want[i] + (1 - d) * w[i];
              maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]));
              moved = Math.max(moved, Math.abs(got[i] - w[i]));
            }
          }
          assertTrue(
              maxDiff < 1e-6,
              "update " + s + ": average differs from the recurrence by " + maxDiff);
          if (s >= 2) {
            assertTrue(
                moved > 1e-4,
                "update " + s + ": the average should lag the weights, max |avg - w| " + moved);
          }
          int now = weights.getManagedArrays().size();
          if (arrays >= 0) {
            assertEquals(arrays, now, "arrays in the weights' manager after update " + s);
          }
          arrays = now;
        }
        assertEquals(10, avg.updates());
      }
    }
  }

  @Test
  void savesTheAverageAsTheUNetsWeights() throws Exception {
    try (NDManager m = NDManager.newBaseManager()) {
      UNet2DConditionModel un = DiffusionTrainerTest.unet(m, 5);
      Map<String, NDArray> other = new LinkedHashMap<>();
      un.namedParameters().forEach((k, p) -> other.put(k, p.get().mul(2)));
      DiffusionTrainer.saveUNet(un, other, dir.resolve("unet"));
      UNet2DConditionModel loaded =
          UNet2DConditionModel.load(dir.resolve("unet"), m, DataType.FLOAT32, Device.cpu());
      assertEquals(other.keySet(), loaded.namedParameters().keySet());
      loaded
          .namedParameters()
          .forEach(
              (k, p) ->
                  assertTrue(
                      p.get().eq(other.get(k)).all().getBoolean(),
                      "saved " + k + " is not the given value"));

      Map<String, NDArray> missing = new LinkedHashMap<>(other);
      missing.remove("conv_out.weight");
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> DiffusionTrainer.saveUNet(un, missing, dir.resolve("bad")));
      assertTrue(e.getMessage().contains("do not match"), e.getMessage());
      Map<String, NDArray> reshaped = new LinkedHashMap<>(other);
      reshaped.put("conv_out.weight", other.get("conv_out.weight").reshape(-1));
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> DiffusionTrainer.saveUNet(un, reshaped, dir.resolve("bad")));
      assertTrue(e.getMessage().contains("conv_out.weight"), e.getMessage());
    }
  }

  private static double[] toDouble(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      d[i] = a[i];
    }
    return d;
  }
}
