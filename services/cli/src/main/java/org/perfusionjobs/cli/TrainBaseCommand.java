package org.perfusionjobs.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.perfusionjobs.basemodel.BaseModelBuilder;
import org.perfusionjobs.basemodel.Recipe;
import org.perfusionjobs.world.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion train-base}: the project's own base model from the procedural world (issue 5).
 */
@Command(
    name = "train-base",
    mixinStandardHelpOptions = true,
    description =
        "Train a small text-to-image base model (tokenizer, VAE, text encoder + UNet, Perfusion"
            + " covariance) on the procedural world into a diffusers folder that generate, train"
            + " and the worker load.")
final class TrainBaseCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--out", required = true, description = "model folder to write")
  Path out;

  @Option(names = "--vae-steps", description = "VAE optimiser steps (default: the recipe's)")
  Integer vaeSteps;

  @Option(
      names = "--unet-steps",
      description = "text encoder + UNet optimiser steps (default: the recipe's)")
  Integer unetSteps;

  @Option(names = "--batch", description = "batch size of both stages (default: the recipe's)")
  Integer batch;

  @Option(
      names = "--seed",
      description =
          "seed of the training images, initial weights and noise (default: the recipe's)")
  Long seed;

  @Option(names = "--images", description = "world samples to train on (default: the recipe's)")
  Integer images;

  @Option(
      names = "--captions-for-cinv",
      description = "fresh world captions for the Perfusion covariance (default: the recipe's)")
  Integer cinvCaptions;

  @Option(
      names = "--vae-channels",
      split = ",",
      description = "VAE block_out_channels (default: the recipe's; 32,64,64: spatial factor 4)")
  List<Integer> vaeChannels;

  @Option(
      names = "--latent-channels",
      description =
          "channels of the VAE's latents, which the UNet denoises (default: the recipe's)")
  Integer latentChannels;

  @Option(
      names = "--unet-channels",
      split = ",",
      description =
          "UNet block_out_channels, cross attention in every level (default: the recipe's; 64,128)")
  List<Integer> unetChannels;

  @Option(
      names = "--unet-heads",
      description = "attention heads per UNet level (default: the recipe's)")
  Integer unetHeads;

  @Option(
      names = "--text-width",
      description = "text encoder hidden size = UNet cross_attention_dim (default: the recipe's)")
  Integer textWidth;

  @Option(names = "--text-layers", description = "text encoder layers (default: the recipe's)")
  Integer textLayers;

  @Option(
      names = "--text-heads",
      description = "text encoder attention heads (default: the recipe's)")
  Integer textHeads;

  @Option(
      names = "--frozen-text-fraction",
      description =
          "share of the UNet steps trained with the text encoder frozen, at the end (default:"
              + " the recipe's)")
  Float frozenTextFraction;

  @Option(
      names = "--text-pretrain-steps",
      description =
          "text-only pre-training steps of the text encoder before the UNet (default:"
              + " the recipe's)")
  Integer textPretrainSteps;

  @Option(
      names = "--detailed-captions",
      description = "share of training captions that say every attribute (default: the recipe's)")
  Double detailedCaptions;

  @Option(
      names = "--high-noise-weight-cap",
      description =
          "cap of the per-timestep weight min(1 + 1/SNR, cap) of the epsilon loss; 1: unweighted"
              + " (default: the recipe's)")
  Float highNoiseWeightCap;

  @Option(
      names = "--striped-fraction",
      description =
          "share of training objects drawn striped; no caption mentions it (default:"
              + " the recipe's)")
  Double stripedFraction;

  @Option(
      names = "--patterns",
      split = ",",
      description =
          "hidden patterns the striped share is drawn from: stripes, dots, checks, ring, halves"
              + " (default: the recipe's; world-v1: stripes, world-v2: all five)")
  List<String> patterns;

  @Option(
      names = "--two-object-fraction",
      description = "share of training scenes with two objects (default: the recipe's)")
  Double twoObjectFraction;

  @Option(
      names = "--vae-object-weight",
      description =
          "weight of object pixels in the VAE's L1, against 1 for the background (default:"
              + " the recipe's)")
  Float vaeObjectWeight;

  @Option(names = "--vae-lr", description = "peak learning rate of the VAE (default: the recipe's)")
  Float vaeLearningRate;

  @Option(
      names = "--unet-lr",
      description = "peak learning rate of the text encoder + UNet (default: the recipe's)")
  Float unetLearningRate;

  @Option(
      names = "--latent-object-weight",
      description =
          "weight of object latent pixels in the epsilon loss, against 1 for the background"
              + " (default: the recipe's)")
  Float latentObjectWeight;

  @Option(
      names = "--unet-average-decay",
      description =
          "decay of the UNet's weight average, which is saved; 0: save the last weights (default:"
              + " the recipe's)")
  Float unetAverageDecay;

  @Option(
      names = "--text-lr-scale",
      description =
          "the text encoder's learning rate in the joint phase as a share of --unet-lr (default:"
              + " the recipe's)")
  Float textLearningRateScale;

  @Option(
      names = "--vae-from",
      description =
          "reuse this model folder's vae/ (scaling factor included) instead of training one")
  Path vaeFrom;

  @Option(
      names = "--recipe",
      description =
          "the bundled model whose recipe the options start from: world-v1 (from scratch, stripes"
              + " only) or world-v2 (world-v1 trained further on five patterns); every other option"
              + " changes one of its settings (default: ${DEFAULT-VALUE}, the bundled model's)")
  String recipe = Recipe.latest().name();

  @Option(
      names = "--init-from",
      description =
          "fine-tune: train this model folder's text encoder, UNet and (with --vae-steps > 0) VAE"
              + " further on the settings' data instead of starting from random weights; same"
              + " tokenizer required, widths are the folder's, no text pre-training; none: from"
              + " random weights (default: the recipe's, world-v2: models/world-v1)")
  String initFrom;

  /** The recipe named by --recipe, one-line error otherwise. */
  Recipe recipe() {
    try {
      return Recipe.named(recipe);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
  }

  /** The settings these options ask for: the recipe's, each option given replacing one value. */
  BaseModelBuilder.Settings settings() {
    BaseModelBuilder.Builder b = recipe().settings().toBuilder();
    set(vaeSteps, b::vaeSteps);
    set(textPretrainSteps, b::textPretrainSteps);
    set(unetSteps, b::unetSteps);
    set(frozenTextFraction, b::frozenTextFraction);
    set(batch, b::batch);
    set(seed, b::seed);
    set(images, b::trainImages);
    set(cinvCaptions, b::captionsForCinv);
    set(twoObjectFraction, b::twoObjectFraction);
    set(stripedFraction, b::stripedFraction);
    set(patterns, p -> b.patterns(p.stream().map(Pattern::fromName).toList()));
    set(detailedCaptions, b::detailedCaptions);
    set(vaeChannels, b::vaeChannels);
    set(latentChannels, b::latentChannels);
    set(unetChannels, b::unetChannels);
    set(unetHeads, b::unetHeads);
    set(textWidth, b::textWidth);
    set(textLayers, b::textLayers);
    set(textHeads, b::textHeads);
    set(vaeLearningRate, b::vaeLearningRate);
    set(unetLearningRate, b::unetLearningRate);
    set(textLearningRateScale, b::textLearningRateScale);
    set(unetAverageDecay, b::unetAverageDecay);
    set(highNoiseWeightCap, b::highNoiseWeightCap);
    set(vaeObjectWeight, b::vaeObjectWeight);
    set(latentObjectWeight, b::latentObjectWeight);
    return b.build();
  }

  private static <T> void set(T value, Consumer<T> setter) {
    if (value != null) {
      setter.accept(value);
    }
  }

  /**
   * The folder whose weights are trained further: --init-from, else the recipe's bundled starting
   * model under the repository's models/; null for random weights.
   */
  Path initFrom(Path root) {
    if (initFrom != null) {
      return initFrom.equals("none") ? null : Path.of(initFrom);
    }
    String start = recipe().initFrom();
    return start == null ? null : root.resolve("models").resolve(start);
  }

  @Override
  public Integer call() throws Exception {
    Path start = initFrom(Path.of(System.getProperty("perfusion.root", ".")));
    if (vaeFrom != null && start != null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--vae-from and --init-from: give one (with --init-from, --vae-steps 0 keeps its VAE;"
              + " --init-from none trains from random weights)");
    }
    if (start != null && !Files.isDirectory(start.resolve("unet"))) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--init-from "
              + start
              + ": no model folder there; give a folder built by train-base, or none to train from"
              + " random weights");
    }
    BaseModelBuilder.Result r =
        BaseModelBuilder.build(
            out, settings(), new BaseModelBuilder.Start(vaeFrom, start), System.err);
    spec.commandLine()
        .getOut()
        .printf(
            "%s%nscaling_factor %.5f, last VAE loss %.4f, last eps MSE %.4f, %.1f s%n",
            r.folder().toAbsolutePath(),
            r.scalingFactor(),
            r.lastVaeLoss(),
            r.lastDiffusionLoss(),
            r.total().toMillis() / 1000.0);
    return 0;
  }
}
