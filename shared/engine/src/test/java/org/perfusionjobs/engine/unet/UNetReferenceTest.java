package org.perfusionjobs.engine.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.testdata.TestData;

/**
 * The tiny UNet against diffusers' outputs (reference/unet.safetensors). Tolerance 1e-4 absolute,
 * the README's suggestion: ~40x the fp32 noise it measured, far below a wrong head count, eps, H/W
 * transpose or skip.
 */
class UNetReferenceTest {
  static final float TOL = 1e-4f;
  static NDManager m;
  static UNet2DConditionModel unet;
  static Map<String, NDArray> ref;

  @BeforeAll
  static void load() throws Exception {
    Path root = TestData.sdTinyRef();
    assertTrue(Files.isDirectory(root), "missing " + root);
    m = NDManager.newBaseManager();
    unet = UNet2DConditionModel.load(root.resolve("unet"), m, DataType.FLOAT32, Device.cpu());
    try (SafetensorsFile f = SafetensorsFile.open(root.resolve("reference/unet.safetensors"))) {
      ref = f.readAll(m);
    }
  }

  @AfterAll
  static void close() {
    m.close();
  }

  @Test
  void noisePredictionsAtTwoTimestepsMatch() {
    NDArray sample = ref.get("sample").repeat(0, 4);
    Conditioning c = Conditioning.of(ref.get("encoder_hidden_states"));
    assertClose("noise_pred_t981", unet.forward(sample, m.create(981L), c));
    assertClose("noise_pred_t21", unet.forward(sample, m.create(21L), c));
    assertEquals(
        unet.crossAttentions().size(), c.cachedLayers(), "K/V cached once per layer and reused");
  }

  @Test
  void nonSquareLatentsMatch() {
    NDArray ehs = ref.get("encoder_hidden_states").get("0:2");
    assertClose(
        "nonsquare_noise_pred_t333",
        unet.forward(ref.get("nonsquare_sample"), m.create(333L), Conditioning.of(ehs)));
  }

  @Test
  void everyStageMatches() {
    Map<String, NDArray> seen = new LinkedHashMap<>();
    NDArray ehs = ref.get("encoder_hidden_states").get("0:1");
    NDArray out =
        ActivationProbe.capture(
            seen::put, () -> unet.forward(ref.get("sample"), m.create(981L), Conditioning.of(ehs)));
    assertClose("single_noise_pred_t981", out);
    int compared = 0;
    for (String key : ref.keySet()) {
      if (key.startsWith("single_t981.")) {
        String stage = key.substring("single_t981.".length());
        NDArray got = seen.get(stage);
        assertTrue(got != null, "stage " + stage + " was not captured");
        assertClose(key, got);
        compared++;
      }
    }
    assertEquals(16, compared);
  }

  private static void assertClose(String key, NDArray actual) {
    NDArray expected = ref.get(key);
    assertEquals(expected.getShape(), actual.getShape(), key);
    float diff = actual.sub(expected).abs().max().getFloat();
    assertTrue(diff < TOL, key + ": max abs diff " + diff);
  }
}
