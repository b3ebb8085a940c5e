package org.perfusionjobs.engine.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.AttentionProcessor;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.attention.KeyValue;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.testdata.TestData;

class UNetLayoutTest {
  static Path data(String name) {
    return TestData.path(name);
  }

  /** The real SD v1.5 UNet built from its config has exactly its checkpoint's keys and shapes. */
  @Test
  void sd15KeysAndShapesMatchTheCheckpointLayout() throws Exception {
    Path layout = data("sd15-layout/unet");
    UNet2DConditionModel unet =
        new UNet2DConditionModel(
            Configs.read(layout.resolve("config.json"), UNet2DConditionConfig.class));
    JsonNode keys = Configs.json().readTree(layout.resolve("state_dict_keys.json").toFile());
    Map<String, Shape> expected = new LinkedHashMap<>();
    keys.get("keys_in_state_dict_order")
        .forEach(
            k -> {
              long[] dims = new long[k.get("shape").size()];
              for (int i = 0; i < dims.length; i++) {
                dims[i] = k.get("shape").get(i).asLong();
              }
              expected.put(k.get("key").asText(), new Shape(dims));
            });
    Map<String, Parameter> actual = unet.namedParameters();
    assertEquals(686, expected.size());
    assertEquals(new TreeSet<>(expected.keySet()), new TreeSet<>(actual.keySet()));
    expected.forEach((k, s) -> assertEquals(s, actual.get(k).shape(), k));
    assertEquals(859_520_964L, unet.parameterCount());
    assertEquals(keys.get("num_elements").asLong(), unet.parameterCount());

    assertEquals(16, unet.crossAttentions().size());
    Map<Long, Integer> widths = new LinkedHashMap<>();
    for (Attention a : unet.crossAttentions()) {
      assertTrue(a.path().endsWith(".attn2"), a.path());
      assertEquals(768, a.toK.inFeatures);
      widths.merge((long) a.toK.outFeatures, 1, Integer::sum);
      assertEquals(8, a.heads, "attention_head_dim 8 means 8 heads in SD v1.x");
    }
    assertEquals(Map.of(320L, 5, 640L, 5, 1280L, 6), widths);
  }

  @Test
  void timeProjectionIsTheClosedFormSinusoid() {
    try (NDManager m = NDManager.newBaseManager()) {
      TimestepEmbedding te = new TimestepEmbedding(8, 32, true, 0);
      float[] got = te.project(m.create(new float[] {981f})).toFloatArray();
      for (int i = 0; i < 4; i++) {
        double f = Math.exp(-Math.log(10000) * i / 4.0);
        assertEquals(Math.cos(981 * f), got[i], 2e-4, "cos " + i);
        assertEquals(Math.sin(981 * f), got[4 + i], 2e-4, "sin " + i);
      }
    }
  }

  @Test
  void everyCrossAttentionLayerGoesThroughTheProcessorOncePerPrompt() throws Exception {
    UNet2DConditionModel unet =
        new UNet2DConditionModel(
            Configs.read(data("sd-tiny-ref/unet/config.json"), UNet2DConditionConfig.class));
    try (NDManager m = NDManager.newBaseManager()) {
      unet.initRandom(m, DataType.FLOAT32, 3);
      AtomicInteger calls = new AtomicInteger();
      AttentionProcessor counting =
          (attn, k, v) -> {
            calls.incrementAndGet();
            return new KeyValue(attn.toK.forward(k), attn.toV.forward(v));
          };
      unet.setCrossAttentionProcessor(counting);
      Conditioning c = Conditioning.of(m.randomNormal(new Shape(2, 77, 32)));
      NDArray x = m.randomNormal(new Shape(2, 4, 16, 16));
      NDArray out = unet.forward(x, m.create(10L), c);
      unet.forward(x, m.create(500L), c);
      assertEquals(new Shape(2, 4, 16, 16), out.getShape());
      assertEquals(4, unet.crossAttentions().size());
      assertEquals(4, calls.get(), "K/V of each attn2 projected once for two denoising steps");
    }
  }

  @Test
  void configErrorsNameTheValues() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                UNet2DConditionConfig.fromJson(
                    16,
                    4,
                    4,
                    List.of(32, 60),
                    null,
                    List.of("CrossAttnDownBlock2D", "DownBlock2D"),
                    List.of("UpBlock2D", "CrossAttnUpBlock2D"),
                    null,
                    null,
                    null,
                    null,
                    8,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null));
    assertTrue(
        e.getMessage().contains("block_out_channels[1] = 60")
            && e.getMessage().contains("norm_num_groups 8"),
        e.getMessage());
    IllegalArgumentException t =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                UNet2DConditionConfig.fromJson(
                    16,
                    4,
                    4,
                    List.of(32, 64),
                    null,
                    List.of("SimpleDownBlock", "DownBlock2D"),
                    List.of("UpBlock2D", "CrossAttnUpBlock2D"),
                    null,
                    null,
                    null,
                    null,
                    8,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null));
    assertTrue(t.getMessage().contains("'SimpleDownBlock'"), t.getMessage());
  }
}
