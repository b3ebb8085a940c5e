package org.perfusionjobs.engine.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.vae.AutoencoderKL;

/** Decoder tuning moves only post_quant_conv and the decoder, and lowers the reconstruction loss. */
class VaeDecoderTunerTest {
  @Test
  void tunesTheDecoderAndLeavesTheEncoderBitIdentical() {
    int n = 8;
    float[][] imgs = VaeTrainerTest.syntheticImages(n, 5);
    float[] flat = new float[n * imgs[0].length];
    for (int i = 0; i < n; i++) {
      System.arraycopy(imgs[i], 0, flat, i * imgs[0].length, imgs[0].length);
    }
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      AutoencoderKL vae = new AutoencoderKL(VaeTrainerTest.tinyConfig());
      vae.initRandom(m, DataType.FLOAT32, 11);
      NDArray images = m.create(flat, new Shape(n, 3, VaeTrainerTest.SIZE, VaeTrainerTest.SIZE));
      Map<String, float[]> before = new LinkedHashMap<>();
      vae.namedParameters().forEach((k, p) -> before.put(k, p.get().toFloatArray()));
      float first;
      float last;
      try (VaeDecoderTuner tuner = new VaeDecoderTuner(vae, 2e-3f, 0f, 3)) {
        assertTrue(tuner.parameters().size() > 0);
        NDArray weights = m.ones(new Shape(n, 1, VaeTrainerTest.SIZE, VaeTrainerTest.SIZE)).mul(2);
        first = tuner.step(images, weights);
        float l = first;
        for (int i = 0; i < 60; i++) {
          l = tuner.step(images);
        }
        last = l;
      }
      // A random decoder starts far off; 60 steps on 8 images must at least halve the L1 (constant weights change nothing).
      assertTrue(last < 0.5 * first, "L1 " + first + " -> " + last);
      for (Map.Entry<String, Parameter> e : vae.namedParameters().entrySet()) {
        float[] now = e.getValue().get().toFloatArray();
        boolean tuned = e.getKey().startsWith("decoder.") || e.getKey().startsWith("post_quant_conv.");
        if (tuned) {
          if (e.getKey().endsWith("weight") && !e.getKey().contains("norm")) {
            assertFalse(Arrays.equals(before.get(e.getKey()), now), e.getKey() + " did not move");
          }
        } else {
          assertArrayEquals(before.get(e.getKey()), now, e.getKey() + " moved");
        }
      }
    }
  }
}
