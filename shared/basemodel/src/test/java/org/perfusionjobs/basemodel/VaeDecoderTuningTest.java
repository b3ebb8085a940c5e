package org.perfusionjobs.basemodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two steps on a copy of the bundled model's VAE: the decoder changes, the encoder does not, the
 * file is rewritten in place.
 */
class VaeDecoderTuningTest {
  @TempDir Path dir;

  static Path bundledVae() {
    return Path.of(System.getProperty("perfusion.models", "../../models"), "world-v1", "vae")
        .toAbsolutePath();
  }

  @Test
  void twoStepsRewriteTheDecoderOnly() throws Exception {
    Path vae = Files.createDirectories(dir.resolve("vae"));
    try (var files = Files.list(bundledVae())) {
      for (Path f : files.toList()) {
        Files.copy(f, vae.resolve(f.getFileName()));
      }
    }
    Path weights = vae.resolve("diffusion_pytorch_model.safetensors");
    byte[] before = Files.readAllBytes(weights);
    StringWriter log = new StringWriter();
    VaeDecoderTuning.Result r =
        VaeDecoderTuning.tune(
            dir,
            new VaeDecoderTuning.Options(2, 2, 0.5, 1e-4f, 10f, 0, 1f),
            new PrintWriter(log, true));
    assertTrue(Float.isFinite(r.plainAfter()) && Float.isFinite(r.stripedAfter()), r.toString());
    assertNotEquals(r.plainBefore(), r.plainAfter(), "two AdamW steps must move the decoder: " + r);
    assertTrue(log.toString().contains("step 2/2"), log.toString());
    assertNotEquals(
        -1L,
        Files.mismatch(weights, bundledVae().resolve("diffusion_pytorch_model.safetensors")),
        "vae/ must be rewritten");
    assertEquals(before.length, Files.size(weights), "same tensors, same sizes");
  }

  @Test
  void badOptionsAreRefusedByName() {
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new VaeDecoderTuning.Options(0, 2, 0.5, 1e-4f, 10f, 0, 1f));
    assertTrue(e.getMessage().contains("steps 0"), e.getMessage());
  }
}
