package org.perfusionjobs.engine.vae;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.StateDictLoader;
import org.perfusionjobs.engine.io.WeightFiles;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Conv2d;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.Scalars;

/**
 * diffusers' AutoencoderKL: {@code encoder}, {@code quant_conv}, {@code post_quant_conv}, {@code
 * decoder}. {@link #decode} and {@link #encode} work on unscaled latents, like diffusers'; the
 * pipeline applies {@code scaling_factor}.
 */
public final class AutoencoderKL extends Module {
  // Older VAEs name the mid-block attention query/key/value/proj_attn.
  private static final Pattern LEGACY =
      Pattern.compile("(.*\\.attentions\\.\\d+\\.)(query|key|value|proj_attn)(\\.(?:weight|bias))");
  private final AutoencoderKLConfig config;
  public final Encoder encoder;
  public final Conv2d quantConv; // (2 latent, 2 latent, 1, 1)
  public final Conv2d postQuantConv; // (latent, latent, 1, 1)
  public final Decoder decoder;

  public AutoencoderKL(AutoencoderKLConfig cfg) {
    this.config = cfg;
    int l = cfg.latentChannels();
    this.encoder = child("encoder", new Encoder(cfg));
    this.decoder = child("decoder", new Decoder(cfg));
    this.quantConv = child("quant_conv", new Conv2d(2 * l, 2 * l, 1, 1, 0));
    this.postQuantConv = child("post_quant_conv", new Conv2d(l, l, 1, 1, 0));
  }

  public static AutoencoderKL load(Path dir, NDManager manager, DataType dtype, Device device)
      throws IOException {
    AutoencoderKL vae =
        new AutoencoderKL(Configs.read(dir.resolve("config.json"), AutoencoderKLConfig.class));
    Path weights = WeightFiles.find(dir, "diffusion_pytorch_model");
    try (SafetensorsFile f = SafetensorsFile.open(weights)) {
      new StateDictLoader(AutoencoderKL::modernName, Set.of()).load(vae, f, manager, dtype, device);
    }
    return vae;
  }

  /** Maps legacy attention keys to today's names; others pass through. */
  static String modernName(String key) {
    Matcher m = LEGACY.matcher(key);
    if (!m.matches()) {
      return key;
    }
    String name =
        switch (m.group(2)) {
          case "query" -> "to_q";
          case "key" -> "to_k";
          case "value" -> "to_v";
          default -> "to_out.0";
        };
    return m.group(1) + name + m.group(3);
  }

  public AutoencoderKLConfig config() {
    return config;
  }

  /** Unscaled latents (B, latent, h, w) → raw image (B, 3, h f, w f), roughly in [-1, 1]. */
  public NDArray decode(NDArray latents) {
    NDArray z = postQuantConv.forward(latents);
    ActivationProbe.record("decode.post_quant_conv", z);
    NDArray image = decoder.forward(z);
    BlockScope.release(z);
    return image;
  }

  /** Image (B, 3, H, W) in [-1, 1] → the latent Gaussian (unscaled). */
  public DiagonalGaussian encode(NDArray image) {
    NDArray moments = quantConv.forward(encoder.forward(image));
    ActivationProbe.record("encode.quant_conv", moments);
    NDList parts = moments.split(2, 1);
    NDArray logvar = parts.get(1).clip(-30f, 20f);
    return new DiagonalGaussian(parts.get(0), logvar, Scalars.mul(logvar, 0.5f).exp());
  }
}
