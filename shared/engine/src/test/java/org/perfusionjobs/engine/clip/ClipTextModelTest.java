package org.perfusionjobs.engine.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.ModelLoadException;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.SafetensorsWriter;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.testdata.TestData;

/**
 * The tiny CLIP text encoder against transformers (reference/text_encoder.safetensors), 1e-4
 * absolute.
 */
class ClipTextModelTest {
  static final float TOL = 1e-4f;
  static Path root;
  static NDManager m;
  static ClipTextModel model;
  static Map<String, NDArray> ref;
  @TempDir Path dir;

  @BeforeAll
  static void load() throws Exception {
    root = TestData.root();
    m = NDManager.newBaseManager();
    model =
        ClipTextModel.load(
            root.resolve("sd-tiny-ref/text_encoder"), m, DataType.FLOAT32, Device.cpu());
    try (SafetensorsFile f =
        SafetensorsFile.open(root.resolve("sd-tiny-ref/reference/text_encoder.safetensors"))) {
      ref = f.readAll(m);
    }
  }

  @AfterAll
  static void close() {
    m.close();
  }

  @Test
  void lastHiddenStateAndEveryLayerMatch() {
    Map<String, NDArray> seen = new LinkedHashMap<>();
    NDArray out = ActivationProbe.capture(seen::put, () -> model.forward(ref.get("input_ids")));
    assertClose(ref.get("last_hidden_state"), out, "last_hidden_state");
    NDArray hidden = ref.get("hidden_states"); // (layers + 1, B, T, D)
    for (int i = 0; i < hidden.getShape().get(0); i++) {
      assertClose(hidden.get(i), seen.get("hidden_states." + i), "hidden_states " + i);
    }
  }

  @Test
  void probesOfTheFirstLayerMatch() {
    Map<String, NDArray> seen = new LinkedHashMap<>();
    ActivationProbe.capture(seen::put, () -> model.forward(ref.get("input_ids").get("0:1")));
    assertClose(
        ref.get("prompt0.embeddings.token_embedding"),
        seen.get("embeddings.token_embedding"),
        "token_embedding");
    assertClose(
        ref.get("prompt0.encoder.layers.0.self_attn"),
        seen.get("encoder.layers.0.self_attn"),
        "self_attn");
    assertClose(ref.get("prompt0.encoder.layers.0.mlp"), seen.get("encoder.layers.0.mlp"), "mlp");
    assertClose(
        ref.get("uncond_last_hidden_state"), model.forward(ref.get("uncond_input_ids")), "uncond");
  }

  @Test
  void positionIdsAreAcceptedAndUnknownOrMisShapedKeysNamed() throws Exception {
    Path src = root.resolve("sd-tiny-ref/text_encoder");
    Map<String, NDArray> weights = new LinkedHashMap<>();
    model.namedParameters().forEach((k, p) -> weights.put(k, p.get()));
    weights.put(
        "text_model.embeddings.position_ids", m.arange(0, 77, 1, DataType.INT64).reshape(1, 77));
    Path withIds = copy(src, "with_ids", weights);
    try (NDManager lm = NDManager.newBaseManager()) {
      ClipTextModel again = ClipTextModel.load(withIds, lm, DataType.FLOAT32, Device.cpu());
      assertClose(
          ref.get("last_hidden_state"), again.forward(ref.get("input_ids")), "with position_ids");
    }
    weights.put("text_model.extra.weight", m.zeros(new Shape(2)));
    weights.put("text_model.final_layer_norm.bias", m.zeros(new Shape(31)));
    Path broken = copy(src, "broken", weights);
    ModelLoadException e =
        assertThrows(
            ModelLoadException.class,
            () -> ClipTextModel.load(broken, m, DataType.FLOAT32, Device.cpu()));
    assertTrue(
        e.getMessage().contains("text_model.extra.weight")
            && e.getMessage().contains("text_model.final_layer_norm.bias is (31)"),
        e.getMessage());
  }

  @Test
  void gradientsFlowIntoAddedEmbeddingsOnly() {
    try (NDManager gm = m.newSubManager()) {
      NDArray added = gm.randomNormal(new Shape(1, 32));
      added.setRequiresGradient(true);
      long[] ids = ref.get("input_ids").get(0).toLongArray();
      ids[5] = 573; // the first added token
      NDArray out;
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        out = model.forward(gm.create(ids).reshape(1, 77), added);
        gc.backward(out.get(0, 7).sum());
      }
      assertTrue(added.getGradient().abs().sum().getFloat() > 0);
      for (Parameter p : model.namedParameters().values()) {
        assertFalse(p.get().hasGradient(), "frozen weight carries a gradient");
      }
      // Positions before the added token cannot see it (causal).
      NDArray plain = model.forward(ref.get("input_ids").get("0:1"));
      assertTrue(out.get(0, 4).sub(plain.get(0, 4)).abs().max().getFloat() < 1e-6f);
      assertTrue(out.get(0, 6).sub(plain.get(0, 6)).abs().max().getFloat() > 1e-4f);
    }
  }

  @Test
  void sd15LayoutHasExactlyTheCheckpointKeys() throws Exception {
    Path layout = root.resolve("sd15-layout/text_encoder");
    ClipTextModel big =
        new ClipTextModel(Configs.read(layout.resolve("config.json"), ClipTextConfig.class));
    JsonNode keys = Configs.json().readTree(layout.resolve("state_dict_keys.json").toFile());
    Map<String, Parameter> actual = big.namedParameters();
    TreeSet<String> expected = new TreeSet<>();
    keys.get("keys_in_state_dict_order")
        .forEach(
            k -> {
              String key = k.get("key").asText();
              expected.add(key);
              long[] dims = new long[k.get("shape").size()];
              for (int i = 0; i < dims.length; i++) {
                dims[i] = k.get("shape").get(i).asLong();
              }
              assertTrue(actual.containsKey(key), "missing " + key);
              assertEquals(new Shape(dims), actual.get(key).shape(), key);
            });
    assertEquals(expected, new TreeSet<>(actual.keySet()));
    assertEquals(196, actual.size());
    assertEquals(123_060_480L, big.parameterCount());
  }

  @Test
  void configErrorsNameTheValues() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ClipTextConfig.fromJson(10, 30, 8, 1, 4, 77, "quick_gelu", 1e-5f));
    assertTrue(
        e.getMessage().contains("hidden_size 30")
            && e.getMessage().contains("num_attention_heads 4"),
        e.getMessage());
    IllegalArgumentException a =
        assertThrows(
            IllegalArgumentException.class,
            () -> ClipTextConfig.fromJson(10, 32, 8, 1, 4, 77, "relu", 1e-5f));
    assertTrue(a.getMessage().contains("'relu'"), a.getMessage());
  }

  private Path copy(Path src, String name, Map<String, NDArray> weights) throws Exception {
    Path d = dir.resolve(name);
    Files.createDirectories(d);
    Files.copy(src.resolve("config.json"), d.resolve("config.json"));
    SafetensorsWriter.write(d.resolve("model.safetensors"), weights, Map.of());
    return d;
  }

  private static void assertClose(NDArray expected, NDArray actual, String what) {
    assertTrue(actual != null, what + " not produced");
    assertEquals(expected.getShape(), actual.getShape(), what);
    float diff = actual.sub(expected).abs().max().getFloat();
    assertTrue(diff < TOL, what + ": max abs diff " + diff);
  }
}
