package org.perfusionjobs.engine.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Map;
import java.util.function.IntFunction;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.SafetensorsWriter;
import org.perfusionjobs.engine.nn.Scalars;
import org.perfusionjobs.engine.vae.AutoencoderKL;
import org.perfusionjobs.engine.vae.AutoencoderKLConfig;
import org.perfusionjobs.engine.vae.DiagonalGaussian;

/**
 * Trains an {@link AutoencoderKL} in place: loss = reconstruction (L1 or MSE, mean over pixels) of
 * the decoded sample z = mean + std * noise, plus {@code klWeight} times the KL divergence of the
 * latent Gaussian from N(0, 1) (summed over latent elements, averaged over the batch, as diffusers
 * does). Each step runs in an {@link NDScope}; the optimiser is {@link AdamW}.
 *
 * <p>Runs on the calling thread. The model's parameters are replaced by gradient-carrying leaves
 * when the trainer is created (see {@link AdamW}); inference with the model still works (outside a
 * GradientCollector no graph is recorded). {@link #close()} frees the optimiser's moments.
 */
public final class VaeTrainer implements AutoCloseable {

  public enum Reconstruction {
    L1,
    MSE
  }

  /** Training settings. */
  public record Options(
      float learningRate,
      float weightDecay,
      float klWeight,
      Reconstruction reconstruction,
      long seed) {
    public Options {
      if (!(learningRate > 0)
          || !(weightDecay >= 0)
          || !(klWeight >= 0)
          || reconstruction == null) {
        throw new IllegalArgumentException(
            "invalid VAE training options: lr "
                + learningRate
                + ", weight decay "
                + weightDecay
                + ", kl weight "
                + klWeight
                + ", reconstruction "
                + reconstruction);
      }
    }

    /** L1, lr 1e-4, weight decay 1e-2, KL weight 1e-6. */
    public static Options defaults() {
      return new Options(1e-4f, 1e-2f, 1e-6f, Reconstruction.L1, 0);
    }

    public Options withLearningRate(float lr) {
      return new Options(lr, weightDecay, klWeight, reconstruction, seed);
    }
  }

  /** Called after every optimiser step with the 1-based step and that step's losses. */
  @FunctionalInterface
  public interface Progress {
    void onStep(int step, StepLoss loss);
  }

  /** Losses of one step: the total that was minimised and its parts (KL unweighted). */
  public record StepLoss(float total, float reconstruction, float kl) {}

  private final AutoencoderKL vae;
  private final Options options;
  private final AdamW optimizer;
  private int step;

  public VaeTrainer(AutoencoderKL vae, Options options) {
    this.vae = vae;
    this.options = options;
    this.optimizer =
        new AdamW(
            new ArrayList<>(vae.namedParameters().values()),
            options.learningRate(),
            options.weightDecay());
  }

  public AutoencoderKL model() {
    return vae;
  }

  public AdamW optimizer() {
    return optimizer;
  }

  /** Steps done so far by this trainer. */
  public int steps() {
    return step;
  }

  /**
   * Runs {@code steps} optimiser steps. {@code batches} is called inside each step's NDScope with
   * the 0-based step index and returns images (B, 3, H, W) in [-1, 1] (H and W multiples of the
   * config's spatial factor); arrays it creates there are freed at the end of the step.
   */
  public void train(IntFunction<NDArray> batches, int steps, Progress progress) {
    for (int i = 0; i < steps; i++) {
      StepLoss loss;
      try (NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        loss = stepOn(batches.apply(step), null);
      }
      progress.onStep(step, loss);
    }
  }

  /**
   * One step on one batch; arrays created during the step are freed by the caller's scope or {@link
   * #train}.
   */
  public StepLoss step(NDArray images) {
    return step(images, null);
  }

  /**
   * As {@link #step(NDArray)} with per-pixel reconstruction weights (B, 1, H, W) or null: the
   * reconstruction term becomes mean(w * err) / mean(w), so weights only shift where the loss looks
   * (e.g. onto objects), not its scale.
   */
  public StepLoss step(NDArray images, NDArray weights) {
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      return stepOn(images, weights);
    }
  }

  private StepLoss stepOn(NDArray images, NDArray weights) {
    StepLoss r = GradientRetry.untilFinite(step + 1, optimizer, () -> pass(images, weights));
    optimizer.step();
    step++;
    return r;
  }

  /** One forward and backward pass; the step's seed makes a pass run again draw the same noise. */
  private StepLoss pass(NDArray images, NDArray weights) {
    NDManager m = images.getManager();
    m.getEngine().setRandomSeed((int) (options.seed() * 31 + step));
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      DiagonalGaussian posterior = vae.encode(images);
      NDArray noise = m.randomNormal(posterior.mean().getShape(), posterior.mean().getDataType());
      NDArray z = posterior.sample(noise);
      NDArray out = vae.decode(z);
      NDArray diff = out.sub(images);
      NDArray err = options.reconstruction() == Reconstruction.L1 ? diff.abs() : diff.square();
      NDArray recLoss = Losses.weightedMean(err, weights, "weights");
      // KL(N(mean, var) || N(0, 1)) = 0.5 * sum(mean^2 + var - 1 - logvar); the -1 is constant and
      // left out of the graph (it changes neither the gradient nor, once added back, the value).
      NDArray mean = posterior.mean();
      NDArray logvar = posterior.logvar();
      long batch = mean.getShape().get(0);
      long perSample = mean.getShape().size() / batch;
      NDArray klSum = mean.square().add(logvar.exp()).sub(logvar).sum();
      NDArray klLoss = Scalars.mul(klSum, 0.5f / batch);
      NDArray loss = recLoss.add(Scalars.mul(klLoss, options.klWeight()));
      gc.backward(loss);
      float rec = recLoss.getFloat();
      float kl = klLoss.getFloat() - 0.5f * perSample;
      float total = rec + options.klWeight() * kl;
      GradientRetry.requireFiniteLoss("VAE training", step + 1, total);
      return new StepLoss(total, rec, kl);
    }
  }

  /**
   * Writes a diffusers {@code vae} folder: {@code config.json} (diffusers key names) and {@code
   * diffusion_pytorch_model.safetensors}, readable by {@link AutoencoderKL#load}.
   */
  public static void save(AutoencoderKL vae, Path dir) throws IOException {
    Files.createDirectories(dir);
    AutoencoderKLConfig c = vae.config();
    ObjectNode json = Configs.json().createObjectNode();
    json.put("_class_name", "AutoencoderKL");
    json.put("in_channels", c.inChannels());
    json.put("out_channels", c.outChannels());
    ArrayNode down = json.putArray("down_block_types");
    c.downBlockTypes().forEach(down::add);
    ArrayNode up = json.putArray("up_block_types");
    c.upBlockTypes().forEach(up::add);
    ArrayNode ch = json.putArray("block_out_channels");
    c.blockOutChannels().forEach(ch::add);
    json.put("layers_per_block", c.layersPerBlock());
    json.put("act_fn", c.actFn());
    json.put("latent_channels", c.latentChannels());
    json.put("norm_num_groups", c.normNumGroups());
    json.put("sample_size", c.sampleSize());
    json.put("scaling_factor", c.scalingFactor());
    Path tmp = Files.createTempFile(dir, "config.json", ".part");
    Files.writeString(
        tmp, Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(json));
    Files.move(
        tmp,
        dir.resolve("config.json"),
        StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
    SafetensorsWriter.writeModule(
        dir.resolve("diffusion_pytorch_model.safetensors"), vae, Map.of("format", "pt"));
  }

  @Override
  public void close() {
    optimizer.close();
  }
}
