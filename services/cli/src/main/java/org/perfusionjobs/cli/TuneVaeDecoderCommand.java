package org.perfusionjobs.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.perfusionjobs.basemodel.VaeDecoderTuning;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion tune-vae-decoder}: options for {@link VaeDecoderTuning}, which teaches a base
 * model's VAE decoder to draw patterned objects with the encoder and the UNet unchanged.
 */
@Command(
    name = "tune-vae-decoder",
    mixinStandardHelpOptions = true,
    description =
        "Fine-tune the VAE decoder of a model folder on fresh world images with striped objects"
            + " (encoder frozen; the UNet stays valid).")
final class TuneVaeDecoderCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      required = true,
      description = "model folder whose vae/ is tuned in place")
  Path model;

  @Option(
      names = "--steps",
      defaultValue = "600",
      description = "optimiser steps (default: ${DEFAULT-VALUE})")
  int steps;

  @Option(
      names = "--batch",
      defaultValue = "16",
      description = "fresh images per step (default: ${DEFAULT-VALUE})")
  int batch;

  @Option(
      names = "--striped-fraction",
      defaultValue = "0.5",
      description = "share of striped objects (default: ${DEFAULT-VALUE})")
  double striped;

  @Option(
      names = "--lr",
      defaultValue = "1e-4",
      description = "AdamW learning rate (default: ${DEFAULT-VALUE})")
  float lr;

  @Option(
      names = "--object-weight",
      defaultValue = "10",
      description =
          "loss weight of object pixels (mask) against 1 for the background (default:"
              + " ${DEFAULT-VALUE})")
  float objectWeight;

  @Option(
      names = "--seed",
      defaultValue = "0",
      description = "seed of the images and the posterior samples (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(
      names = "--latent-noise",
      defaultValue = "1",
      description =
          "scale of the posterior noise in the decoded latents: 1 posterior samples, 0 the"
              + " posterior mean (default: ${DEFAULT-VALUE})")
  float latentNoise;

  @Override
  public Integer call() throws Exception {
    VaeDecoderTuning.Options o =
        new VaeDecoderTuning.Options(steps, batch, striped, lr, objectWeight, seed, latentNoise);
    VaeDecoderTuning.tune(model, o, spec.commandLine().getErr());
    spec.commandLine().getOut().println(model.resolve("vae"));
    return 0;
  }
}
