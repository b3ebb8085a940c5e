package org.perfusionjobs.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.train.LearningRateSchedule;
import org.perfusionjobs.engine.train.VaeDecoderTuner;
import org.perfusionjobs.engine.train.VaeTrainer;
import org.perfusionjobs.engine.vae.AutoencoderKL;
import org.perfusionjobs.basemodel.ObjectWeights;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion tune-vae-decoder}: teaches a base model's VAE decoder to draw patterned objects
 * (the demo concept's stripes) with the encoder, and so the latent space and the UNet, unchanged.
 */
@Command(name = "tune-vae-decoder", mixinStandardHelpOptions = true,
    description = "Fine-tune the VAE decoder of a model folder on fresh world images with striped objects (encoder frozen; the UNet stays valid).")
final class TuneVaeDecoderCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, description = "model folder whose vae/ is tuned in place")
  Path model;

  @Option(names = "--steps", defaultValue = "600", description = "optimiser steps (default: ${DEFAULT-VALUE})")
  int steps;

  @Option(names = "--batch", defaultValue = "16", description = "fresh images per step (default: ${DEFAULT-VALUE})")
  int batch;

  @Option(names = "--striped-fraction", defaultValue = "0.5", description = "share of striped objects (default: ${DEFAULT-VALUE})")
  double striped;

  @Option(names = "--lr", defaultValue = "1e-4", description = "AdamW learning rate (default: ${DEFAULT-VALUE})")
  float lr;

  @Option(names = "--object-weight", defaultValue = "10", description = "loss weight of object pixels (mask) against 1 for the background (default: ${DEFAULT-VALUE})")
  float objectWeight;

  @Option(names = "--seed", defaultValue = "0", description = "seed of the images and the posterior samples (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--latent-noise", defaultValue = "1", description = "scale of the posterior noise in the decoded latents: 1 posterior samples, 0 the posterior mean (default: ${DEFAULT-VALUE})")
  float latentNoise;

  @Override
  public Integer call() throws Exception {
    var err = spec.commandLine().getErr();
    Path dir = model.resolve("vae");
    World world = new World(World.DEFAULT_TWO_OBJECT_FRACTION, striped);
    SplittableRandom rnd = new SplittableRandom(seed);
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      AutoencoderKL vae = AutoencoderKL.load(dir, m, DataType.FLOAT32, Device.cpu());
      List<Sample> plainTest = new World().samples(seed + 101, 64).toList();
      List<Sample> stripedTest = new World(0.3, 1).samples(seed + 102, 64).toList();
      err.printf("before: L1 %.4f on plain images, %.4f on striped ones%n", l1(vae, plainTest, m), l1(vae, stripedTest, m));
      long t0 = System.nanoTime();
      try (VaeDecoderTuner tuner = new VaeDecoderTuner(vae, lr, 1e-2f, seed).latentNoise(latentNoise)) {
        double window = 0;
        int every = Math.max(1, steps / 20);
        for (int s = 0; s < steps; s++) {
          tuner.optimizer().setLearningRate(LearningRateSchedule.warmupCosine(lr, s, steps, 0));
          float loss;
          try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            List<Sample> samples = world.samples(rnd.nextLong(), batch).toList();
            loss = tuner.step(batch(samples, m), ObjectWeights.of(samples, objectWeight, 1, m));
          }
          window += loss;
          if ((s + 1) % every == 0 || s + 1 == steps) {
            err.printf("step %d/%d: L1 %.4f (mean of last %d), %.0f ms/step%n", s + 1, steps, window / every, every, (System.nanoTime() - t0) / 1e6 / (s + 1));
            window = 0;
          }
        }
      }
      err.printf("after: L1 %.4f on plain images, %.4f on striped ones%n", l1(vae, plainTest, m), l1(vae, stripedTest, m));
      VaeTrainer.save(vae, dir);
      spec.commandLine().getOut().println(dir);
    }
    return 0;
  }

  private static NDArray batch(List<Sample> samples, NDManager m) {
    return ImageCodec.toTensor(samples.stream().map(Sample::image).toList(), m);
  }

  private static float l1(AutoencoderKL vae, List<Sample> samples, NDManager m) {
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDArray x = batch(samples, m);
      return vae.decode(vae.encode(x).mean()).sub(x).abs().mean().getFloat();
    }
  }
}
