package org.perfusionjobs.engine.personalization.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.nn.LinearDelta;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.nn.WeightEdits;
import org.perfusionjobs.engine.perfusion.TrainingConfig;
import org.perfusionjobs.engine.personalization.BaselineConfig;
import org.perfusionjobs.engine.personalization.TrainableWeights;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.testdata.TestData;

/**
 * LoRA's initialisation and its low-rank term: values, gradients, and gradients under GC pressure.
 */
class LoraTest {
  static StableDiffusionPipeline sd;

  @BeforeAll
  static void load() throws Exception {
    sd = StableDiffusionPipeline.load(TestData.sdTinyRef(), EngineOptions.cpu());
  }

  static BaselineConfig config(long seed, int rank) {
    return new BaselineConfig(
        TrainingConfig.defaults("zwx", "car").withSeed(seed), 1e-3f, 1e-3f, rank, 1, 1, 1f);
  }

  /**
   * Up (B) starts at exact zeros, so the first forward pass is the base model's; down (A) is N(0,
   * (1/r)^2) from the run's seed: the same seed gives the same A, another seed another A; the
   * pooled standard deviation is within 5% of 1/r (thousands of values); four projections of every
   * attention layer (self and cross) get a pair.
   */
  @Test
  void upStartsAtZeroAndDownIsSeededGaussianWithStdOneOverRank() {
    try (NDManager m = sd.manager().newSubManager()) {
      for (int rank : new int[] {4, 8}) {
        TrainableWeights w = new Lora().init(sd, config(7, rank), null, m);
        TrainableWeights same = new Lora().init(sd, config(7, rank), null, m);
        TrainableWeights other = new Lora().init(sd, config(8, rank), null, m);
        List<Parameter> p = w.parameters();
        assertEquals(
            2 * 4 * 2 * sd.unet().crossAttentions().size(),
            p.size(),
            "a down/up pair on 4 projections of 2 attentions per transformer block");
        assertEquals(null, w.embedding());
        double sum = 0;
        double sq = 0;
        long n = 0;
        for (int i = 0; i < p.size(); i += 2) {
          float[] down = p.get(i).get().toFloatArray();
          float[] up = p.get(i + 1).get().toFloatArray();
          assertEquals(rank, p.get(i).shape().get(0));
          assertEquals(rank, p.get(i + 1).shape().get(1));
          for (float u : up) {
            assertEquals(0f, u, 0f, "B starts at zero");
          }
          assertArrayEquals(
              down, same.parameters().get(i).get().toFloatArray(), "same seed, same A");
          assertFalse(
              java.util.Arrays.equals(down, other.parameters().get(i).get().toFloatArray()),
              "another seed, another A");
          for (float d : down) {
            sum += d;
            sq += d * d;
            n++;
          }
        }
        double std = Math.sqrt(sq / n - (sum / n) * (sum / n));
        assertTrue(n > 2000, "values: " + n);
        assertEquals(1.0 / rank, std, 0.05 / rank, "std of A at rank " + rank);
      }
    }
  }

  /**
   * s (x A') B' equals x (s B A)', the merged weight update, to 1e-5 (fp32 sums of a few terms).
   */
  @Test
  void termEqualsTheMergedWeightUpdate() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.randomNormal(new Shape(3, 5, 16));
      NDArray down = m.randomNormal(new Shape(4, 16));
      NDArray up = m.randomNormal(new Shape(12, 4));
      NDArray term = Lora.delta(down, up, 0.5f).apply(x);
      NDArray merged = x.matMul(up.matMul(down).transpose()).mul(0.5f);
      assertEquals(new Shape(3, 5, 12), term.getShape());
      assertTrue(
          term.sub(merged).abs().max().getFloat()
              < 1e-5f * Math.max(1f, merged.abs().max().getFloat()),
          "term vs merged update");
      assertArrayEquals(
          new float[(int) term.size()],
          Lora.delta(down, up, 0f).apply(x).abs().toFloatArray(),
          0f,
          "scale 0: exact zeros");
    }
  }

  /**
   * The cause of the NaN losses LoRA training showed (at a step that depended on the garbage
   * collector): a scale applied with DJL's {@code mul(Number)} is a tensor over a Java buffer that
   * is closed at once; autograd keeps it for the backward pass, and once the collector frees the
   * buffer, backward reads freed memory. Here the forward pass runs, the collector runs and the
   * freed memory is refilled with NaNs, and only then does backward run: the gradients of A and B
   * must still equal their closed forms, to 1e-5 relative, over 20 rounds.
   */
  @Test
  void gradientsOfAScaledTermSurviveGarbageCollectionBetweenForwardAndBackward() throws Exception {
    assertGradientsSurviveGc(d -> Lora.delta(d[0], d[1], 0.5f), 0.5f);
  }

  static void assertGradientsSurviveGc(Function<NDArray[], LinearDelta> make, float scale)
      throws Exception {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.randomNormal(new Shape(6, 16));
      NDArray g = m.randomNormal(new Shape(6, 12));
      for (int round = 0; round < 20; round++) {
        NDArray down = m.randomNormal(new Shape(4, 16));
        NDArray up = m.randomNormal(new Shape(12, 4));
        down.setRequiresGradient(true);
        up.setRequiresGradient(true);
        List<ByteBuffer> filler = new ArrayList<>();
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          NDArray loss = make.apply(new NDArray[] {down, up}).apply(x).mul(g).sum();
          for (int k = 0; k < 3; k++) {
            System.gc();
            Thread.sleep(20);
            for (int i = 0; i < 2000; i++) {
              filler.add(
                  ByteBuffer.allocateDirect(4)
                      .order(ByteOrder.nativeOrder())
                      .putFloat(0, Float.NaN));
            }
          }
          gc.backward(loss);
        }
        // d/dB sum(g * s x A' B') = s g' (x A'); d/dA = s (g B)' x.
        NDArray expectUp = g.transpose().matMul(x.matMul(down.transpose())).mul(scale);
        NDArray expectDown = g.matMul(up).transpose().matMul(x).mul(scale);
        assertClose(expectUp, up.getGradient(), "grad of B, round " + round);
        assertClose(expectDown, down.getGradient(), "grad of A, round " + round);
        filler.clear();
      }
    }
  }

  static void assertClose(NDArray expected, NDArray actual, String what) {
    float tol = 1e-5f * Math.max(1f, expected.abs().max().getFloat());
    float diff = expected.sub(actual).abs().max().getFloat();
    assertTrue(diff <= tol, what + ": max |diff| " + diff + " > " + tol);
  }

  /**
   * Through the weight-edit hook, the term reaches only A and B: the layer's own weight gets no
   * gradient.
   */
  @Test
  void throughTheHookOnlyTheFactorsGetGradients() {
    try (NDManager m = sd.manager().newSubManager()) {
      String path = Lora.targets(sd).get(0);
      var layer =
          new java.util.concurrent.atomic.AtomicReference<org.perfusionjobs.engine.nn.Linear>();
      sd.unet()
          .visit(
              (p, mod) -> {
                if (p.equals(path)) {
                  layer.set((org.perfusionjobs.engine.nn.Linear) mod);
                }
              });
      org.perfusionjobs.engine.nn.Linear l = layer.get();
      NDArray down = m.randomNormal(new Shape(4, l.inFeatures));
      NDArray up = m.randomNormal(new Shape(l.outFeatures, 4));
      down.setRequiresGradient(true);
      up.setRequiresGradient(true);
      NDArray x = m.randomNormal(new Shape(2, 3, l.inFeatures));
      try (GradientCollector gc = Engine.getInstance().newGradientCollector();
          var installed =
              new WeightEdits(java.util.Map.of(path, Lora.delta(down, up, 1f)), java.util.Map.of())
                  .install(sd.unet())) {
        gc.backward(l.forward(x).sum());
      }
      assertTrue(up.getGradient().abs().sum().getFloat() > 0, "B gets a gradient");
      assertTrue(down.getGradient().abs().sum().getFloat() > 0, "A gets a gradient");
      assertFalse(l.weight.get().hasGradient(), "the base weight is not part of the graph");
      assertEquals(null, l.delta(), "the term is gone after the installation closes");
    }
  }
}
