package org.perfusionjobs.engine.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.SafetensorsWriter;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.testdata.TestData;

/** The tiny VAE against diffusers (reference/vae.safetensors), 1e-4 absolute. */
class AutoencoderKLTest {
  static final float TOL = 1e-4f;
  static Path root;
  static NDManager m;
  static AutoencoderKL vae;
  static Map<String, NDArray> ref;
  @TempDir Path dir;

  @BeforeAll
  static void load() throws Exception {
    root = TestData.root();
    m = NDManager.newBaseManager();
    vae = AutoencoderKL.load(root.resolve("sd-tiny-ref/vae"), m, DataType.FLOAT32, Device.cpu());
    try (SafetensorsFile f =
        SafetensorsFile.open(root.resolve("sd-tiny-ref/reference/vae.safetensors"))) {
      ref = f.readAll(m);
    }
  }

  @AfterAll
  static void close() {
    m.close();
  }

  @Test
  void decodeMatchesWithIntermediates() {
    Map<String, NDArray> seen = new LinkedHashMap<>();
    NDArray out =
        ActivationProbe.capture(seen::put, () -> vae.decode(ref.get("decode_input_latent")));
    assertClose("decode_output", out);
    for (String k :
        new String[] {
          "decode.post_quant_conv", "decode.decoder.mid_block", "decode.decoder.conv_norm_out"
        }) {
      assertClose(k, seen.get(k));
    }
    assertClose("decode_nonsquare_output", vae.decode(ref.get("decode_nonsquare_input_latent")));
  }

  @Test
  void encodeMatchesWithIntermediates() {
    Map<String, NDArray> seen = new LinkedHashMap<>();
    DiagonalGaussian d =
        ActivationProbe.capture(seen::put, () -> vae.encode(ref.get("encode_input_image")));
    assertClose("encode_mean", d.mean());
    assertClose("encode_logvar", d.logvar());
    assertClose("encode_std", d.std());
    for (String k :
        new String[] {
          "encode.encoder.down_blocks.0", "encode.encoder.mid_block", "encode.quant_conv"
        }) {
      assertClose(k, seen.get(k));
    }
  }

  /** Older checkpoints name the mid-block attention query/key/value/proj_attn. */
  @Test
  void legacyAttentionNamesLoad() throws Exception {
    Path legacy = dir.resolve("vae");
    Files.createDirectories(legacy);
    Files.copy(root.resolve("sd-tiny-ref/vae/config.json"), legacy.resolve("config.json"));
    Map<String, NDArray> renamed = new LinkedHashMap<>();
    vae.namedParameters()
        .forEach(
            (k, p) ->
                renamed.put(
                    k.replace(".to_q.", ".query.")
                        .replace(".to_k.", ".key.")
                        .replace(".to_v.", ".value.")
                        .replace(".to_out.0.", ".proj_attn."),
                    p.get()));
    assertTrue(renamed.keySet().stream().anyMatch(k -> k.contains(".proj_attn.")));
    SafetensorsWriter.write(
        legacy.resolve("diffusion_pytorch_model.safetensors"), renamed, Map.of());
    try (NDManager lm = NDManager.newBaseManager()) {
      AutoencoderKL old = AutoencoderKL.load(legacy, lm, DataType.FLOAT32, Device.cpu());
      assertClose("decode_output", old.decode(ref.get("decode_input_latent")));
    }
  }

  @Test
  void sd15LayoutHasExactlyTheCheckpointKeys() throws Exception {
    Path layout = root.resolve("sd15-layout/vae");
    AutoencoderKL big =
        new AutoencoderKL(Configs.read(layout.resolve("config.json"), AutoencoderKLConfig.class));
    JsonNode keys = Configs.json().readTree(layout.resolve("state_dict_keys.json").toFile());
    Map<String, Parameter> actual = big.namedParameters();
    TreeSet<String> expected = new TreeSet<>();
    keys.get("keys_in_state_dict_order")
        .forEach(
            k -> {
              expected.add(k.get("key").asText());
              long[] dims = new long[k.get("shape").size()];
              for (int i = 0; i < dims.length; i++) {
                dims[i] = k.get("shape").get(i).asLong();
              }
              Parameter p = actual.get(k.get("key").asText());
              assertTrue(p != null, "missing " + k.get("key").asText());
              assertEquals(new Shape(dims), p.shape(), k.get("key").asText());
            });
    assertEquals(expected, new TreeSet<>(actual.keySet()));
    assertEquals(248, actual.size());
    assertEquals(83_653_863L, big.parameterCount());
    assertEquals(8, big.config().spatialFactor());
  }

  @Test
  void configErrorsNameTheValues() {
    IllegalArgumentException e =
        Assertions.assertThrows(
            IllegalArgumentException.class,
            () ->
                AutoencoderKLConfig.fromJson(
                    3,
                    3,
                    List.of("DownEncoderBlock2D"),
                    List.of("UpDecoderBlock2D"),
                    List.of(30),
                    1,
                    "silu",
                    4,
                    8,
                    32,
                    0.18215f));
    assertTrue(e.getMessage().contains("block_out_channels[0] = 30"), e.getMessage());
  }

  private static void assertClose(String key, NDArray actual) {
    NDArray expected = ref.get(key);
    assertTrue(actual != null, key + " not produced");
    assertEquals(expected.getShape(), actual.getShape(), key);
    float diff = actual.sub(expected).abs().max().getFloat();
    assertTrue(diff < TOL, key + ": max abs diff " + diff);
  }
}
