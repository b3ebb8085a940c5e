package org.perfusionjobs.engine.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.vae.AutoencoderKL;
import org.perfusionjobs.engine.vae.DiagonalGaussian;

/**
 * Fine-tunes only the decoder half of a trained VAE ({@code post_quant_conv} and {@code decoder})
 * with an L1 reconstruction loss, the encoder frozen: the latent space, and so every UNet trained
 * on it, stays valid, while the decoder learns to draw images the first training never showed. This
 * is how SD v1's improved VAE decoders were made.
 */
public final class VaeDecoderTuner implements AutoCloseable {
  private final AutoencoderKL vae;
  private final AdamW optimizer;
  private final long seed;
  private int step;
  private float latentNoise = 1;

  public VaeDecoderTuner(AutoencoderKL vae, float learningRate, float weightDecay, long seed) {
    this.vae = vae;
    this.seed = seed;
    List<Parameter> params = new ArrayList<>();
    for (Map.Entry<String, Parameter> e : vae.namedParameters().entrySet()) {
      if (e.getKey().startsWith("decoder.") || e.getKey().startsWith("post_quant_conv.")) {
        params.add(e.getValue());
      }
    }
    this.optimizer = new AdamW(params, learningRate, weightDecay);
  }

  /**
   * Scale of the posterior noise in the decoded latents, 1 (default: posterior samples) to 0 (the
   * posterior mean, which is what the UNet is trained on and sampling decodes): a decoder trained
   * on noisy latents averages over the noise and blurs fine outlines such as star points.
   */
  public VaeDecoderTuner latentNoise(float scale) {
    if (!(scale >= 0 && scale <= 1)) {
      throw new IllegalArgumentException("latent noise scale must be in [0, 1], got " + scale);
    }
    this.latentNoise = scale;
    return this;
  }

  public AdamW optimizer() {
    return optimizer;
  }

  /** Names of the tuned parameters, for checks that nothing else moves. */
  public List<Parameter> parameters() {
    return optimizer.parameters();
  }

  /** {@link #step(NDArray, NDArray)} with every pixel weighted alike. */
  public float step(NDArray images) {
    return step(images, null);
  }

  /**
   * One step on images (B, 3, H, W) in [-1, 1]: latents sampled from the frozen encoder's
   * posterior, decoded with gradients; returns the weighted L1 loss. {@code weights} (B, 1, H, W)
   * or null: per-pixel weights (e.g. higher on objects, which are a small share of the pixels and
   * whose outlines are what the decoder blurs); the loss is normalised by their mean.
   */
  public float step(NDArray images, NDArray weights) {
    NDManager m = images.getManager();
    float loss;
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      m.getEngine().setRandomSeed((int) (seed * 31 + step));
      DiagonalGaussian posterior = vae.encode(images);
      NDArray noise =
          m.randomNormal(posterior.mean().getShape(), posterior.mean().getDataType())
              .mul(latentNoise);
      NDArray z = posterior.sample(noise).stopGradient();
      loss =
          GradientRetry.untilFinite(
              step + 1,
              optimizer,
              () -> {
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                  NDArray diff = vae.decode(z).sub(images).abs();
                  NDArray l1 = Losses.weightedMean(diff, weights, "weights");
                  float value = l1.getFloat();
                  GradientRetry.requireFiniteLoss("VAE decoder tuning", step + 1, value);
                  gc.backward(l1);
                  return value;
                }
              });
      optimizer.step();
    }
    step++;
    return loss;
  }

  @Override
  public void close() {
    optimizer.close();
  }
}
