package org.perfusionjobs.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTextConfig;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.SafetensorsWriter;
import org.perfusionjobs.engine.unet.UNet2DConditionConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionModel;
import org.perfusionjobs.engine.vae.AutoencoderKL;
import org.perfusionjobs.engine.vae.AutoencoderKLConfig;
import org.perfusionjobs.testdata.TestData;

/**
 * The real SD v1.5 architecture, built from its configs with random weights, written to a diffusers
 * folder and loaded back through the strict loaders. The UNet is written in fp32 (3.4 GB, beyond
 * the 2 GiB a single-buffer reader handles); the text encoder and VAE in fp16.
 */
class Sd15LayoutLoadTest {
  @TempDir Path dir;

  @Test
  void randomSd15CheckpointWritesAndLoadsStrictly() throws Exception {
    Path layout = TestData.path("sd15-layout");
    for (String c : new String[] {"unet", "vae", "text_encoder"}) {
      Files.createDirectories(dir.resolve(c));
      Files.copy(layout.resolve(c).resolve("config.json"), dir.resolve(c).resolve("config.json"));
    }
    try (NDManager m = NDManager.newBaseManager()) {
      try (NDManager w = m.newSubManager()) {
        UNet2DConditionModel unet =
            new UNet2DConditionModel(
                Configs.read(dir.resolve("unet/config.json"), UNet2DConditionConfig.class));
        unet.initRandom(w, DataType.FLOAT32, 1);
        SafetensorsWriter.writeModule(
            dir.resolve("unet/diffusion_pytorch_model.safetensors"), unet, Map.of("format", "pt"));
      }
      assertTrue(Files.size(dir.resolve("unet/diffusion_pytorch_model.safetensors")) > (1L << 31));
      try (NDManager w = m.newSubManager()) {
        AutoencoderKL vae =
            new AutoencoderKL(
                Configs.read(dir.resolve("vae/config.json"), AutoencoderKLConfig.class));
        vae.initRandom(w, DataType.FLOAT16, 2);
        SafetensorsWriter.writeModule(
            dir.resolve("vae/diffusion_pytorch_model.safetensors"), vae, Map.of());
        ClipTextModel text =
            new ClipTextModel(
                Configs.read(dir.resolve("text_encoder/config.json"), ClipTextConfig.class));
        text.initRandom(w, DataType.FLOAT16, 3);
        SafetensorsWriter.writeModule(
            dir.resolve("text_encoder/model.safetensors"), text, Map.of());
      }

      try (NDManager l = m.newSubManager()) {
        UNet2DConditionModel unet =
            UNet2DConditionModel.load(dir.resolve("unet"), l, DataType.FLOAT32, Device.cpu());
        assertEquals(859_520_964L, unet.parameterCount());
        assertEquals(16, unet.crossAttentions().size());
        ClipTextModel text =
            ClipTextModel.load(dir.resolve("text_encoder"), l, DataType.FLOAT32, Device.cpu());
        assertEquals(123_060_480L, text.parameterCount());
        AutoencoderKL vae =
            AutoencoderKL.load(dir.resolve("vae"), l, DataType.FLOAT32, Device.cpu());
        assertEquals(83_653_863L, vae.parameterCount());

        // One pass through each at a small size: shapes as SD v1.5 implies.
        NDArray ids = l.zeros(new Shape(1, 77), DataType.INT64);
        NDArray states = text.forward(ids);
        assertEquals(new Shape(1, 77, 768), states.getShape());
        NDArray eps =
            unet.forward(
                l.randomNormal(new Shape(1, 4, 8, 8)), l.create(500L), Conditioning.of(states));
        assertEquals(new Shape(1, 4, 8, 8), eps.getShape());
        assertTrue(Float.isFinite(eps.abs().max().getFloat()));
        assertEquals(
            new Shape(1, 3, 64, 64), vae.decode(l.randomNormal(new Shape(1, 4, 8, 8))).getShape());
      }
    }
  }
}
