package org.perfusionjobs.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.perfusionjobs.basemodel.BaseModelBuilder;
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
  private static final BaseModelBuilder.Settings D = BaseModelBuilder.Settings.defaults();

  @Spec CommandSpec spec;

  @Option(names = "--out", required = true, description = "model folder to write")
  Path out;

  @Option(names = "--vae-steps", description = "VAE optimiser steps (default ${DEFAULT-VALUE})")
  int vaeSteps = D.stages().vaeSteps();

  @Option(
      names = "--unet-steps",
      description = "text encoder + UNet optimiser steps (default ${DEFAULT-VALUE})")
  int unetSteps = D.stages().unetSteps();

  @Option(names = "--batch", description = "batch size of both stages (default ${DEFAULT-VALUE})")
  int batch = D.stages().batch();

  @Option(
      names = "--seed",
      description =
          "seed of the training images, initial weights and noise (default ${DEFAULT-VALUE})")
  long seed = D.data().seed();

  @Option(names = "--images", description = "world samples to train on (default ${DEFAULT-VALUE})")
  int images = D.data().trainImages();

  @Option(
      names = "--captions-for-cinv",
      description = "fresh world captions for the Perfusion covariance (default ${DEFAULT-VALUE})")
  int cinvCaptions = D.data().captionsForCinv();

  @Option(
      names = "--vae-channels",
      split = ",",
      description = "VAE block_out_channels (default 32,64,64: spatial factor 4)")
  List<Integer> vaeChannels = D.widths().vaeChannels();

  @Option(
      names = "--latent-channels",
      description =
          "channels of the VAE's latents, which the UNet denoises (default ${DEFAULT-VALUE})")
  int latentChannels = D.widths().latentChannels();

  @Option(
      names = "--unet-channels",
      split = ",",
      description = "UNet block_out_channels, cross attention in every level (default 64,128)")
  List<Integer> unetChannels = D.widths().unetChannels();

  @Option(
      names = "--unet-heads",
      description = "attention heads per UNet level (default ${DEFAULT-VALUE})")
  int unetHeads = D.widths().unetHeads();

  @Option(
      names = "--text-width",
      description =
          "text encoder hidden size = UNet cross_attention_dim (default ${DEFAULT-VALUE})")
  int textWidth = D.widths().textWidth();

  @Option(names = "--text-layers", description = "text encoder layers (default ${DEFAULT-VALUE})")
  int textLayers = D.widths().textLayers();

  @Option(
      names = "--text-heads",
      description = "text encoder attention heads (default ${DEFAULT-VALUE})")
  int textHeads = D.widths().textHeads();

  @Option(
      names = "--frozen-text-fraction",
      description =
          "share of the UNet steps trained with the text encoder frozen, at the end (default"
              + " ${DEFAULT-VALUE})")
  float frozenTextFraction = D.stages().frozenTextFraction();

  @Option(
      names = "--text-pretrain-steps",
      description =
          "text-only pre-training steps of the text encoder before the UNet (default"
              + " ${DEFAULT-VALUE})")
  int textPretrainSteps = D.stages().textPretrainSteps();

  @Option(
      names = "--detailed-captions",
      description =
          "share of training captions that say every attribute (default ${DEFAULT-VALUE})")
  double detailedCaptions = D.data().detailedCaptions();

  @Option(
      names = "--high-noise-weight-cap",
      description =
          "cap of the per-timestep weight min(1 + 1/SNR, cap) of the epsilon loss; 1: unweighted"
              + " (default ${DEFAULT-VALUE})")
  float highNoiseWeightCap = D.loss().highNoiseWeightCap();

  @Option(
      names = "--striped-fraction",
      description =
          "share of training objects drawn striped; no caption mentions it (default"
              + " ${DEFAULT-VALUE})")
  double stripedFraction = D.data().stripedFraction();

  @Option(
      names = "--patterns",
      split = ",",
      description =
          "hidden patterns the striped share is drawn from: stripes, dots, checks, ring, halves"
              + " (default stripes, revision 7's data; the next base model: all five)")
  List<String> patterns = D.data().patterns().stream().map(Pattern::word).toList();

  @Option(
      names = "--two-object-fraction",
      description = "share of training scenes with two objects (default ${DEFAULT-VALUE})")
  double twoObjectFraction = D.data().twoObjectFraction();

  @Option(
      names = "--vae-object-weight",
      description =
          "weight of object pixels in the VAE's L1, against 1 for the background (default"
              + " ${DEFAULT-VALUE})")
  float vaeObjectWeight = D.loss().vaeObjectWeight();

  @Option(
      names = "--vae-lr",
      description = "peak learning rate of the VAE (default ${DEFAULT-VALUE})")
  float vaeLearningRate = D.optimiser().vaeLearningRate();

  @Option(
      names = "--unet-lr",
      description = "peak learning rate of the text encoder + UNet (default ${DEFAULT-VALUE})")
  float unetLearningRate = D.optimiser().unetLearningRate();

  @Option(
      names = "--latent-object-weight",
      description =
          "weight of object latent pixels in the epsilon loss, against 1 for the background"
              + " (default ${DEFAULT-VALUE})")
  float latentObjectWeight = D.loss().latentObjectWeight();

  @Option(
      names = "--unet-average-decay",
      description =
          "decay of the UNet's weight average, which is saved; 0: save the last weights (default"
              + " ${DEFAULT-VALUE})")
  float unetAverageDecay = D.optimiser().unetAverageDecay();

  @Option(
      names = "--text-lr-scale",
      description =
          "the text encoder's learning rate in the joint phase as a share of --unet-lr (default"
              + " ${DEFAULT-VALUE})")
  float textLearningRateScale = D.optimiser().textLearningRateScale();

  @Option(
      names = "--vae-from",
      description =
          "reuse this model folder's vae/ (scaling factor included) instead of training one")
  Path vaeFrom;

  @Option(
      names = "--init-from",
      description =
          "fine-tune: train this model folder's text encoder, UNet and (with --vae-steps > 0) VAE"
              + " further on the settings' data instead of starting from random weights; same"
              + " tokenizer required, widths are the folder's, no text pre-training")
  Path initFrom;

  /**
   * The settings these options ask for: with no option given, exactly {@link
   * BaseModelBuilder.Settings#defaults()}.
   */
  BaseModelBuilder.Settings settings() {
    return BaseModelBuilder.Settings.builder()
        .vaeSteps(vaeSteps)
        .textPretrainSteps(textPretrainSteps)
        .unetSteps(unetSteps)
        .frozenTextFraction(frozenTextFraction)
        .batch(batch)
        .seed(seed)
        .trainImages(images)
        .captionsForCinv(cinvCaptions)
        .twoObjectFraction(twoObjectFraction)
        .stripedFraction(stripedFraction)
        .patterns(patterns.stream().map(Pattern::fromName).toList())
        .detailedCaptions(detailedCaptions)
        .vaeChannels(vaeChannels)
        .latentChannels(latentChannels)
        .unetChannels(unetChannels)
        .unetHeads(unetHeads)
        .textWidth(textWidth)
        .textLayers(textLayers)
        .textHeads(textHeads)
        .vaeLearningRate(vaeLearningRate)
        .unetLearningRate(unetLearningRate)
        .textLearningRateScale(textLearningRateScale)
        .unetAverageDecay(unetAverageDecay)
        .highNoiseWeightCap(highNoiseWeightCap)
        .vaeObjectWeight(vaeObjectWeight)
        .latentObjectWeight(latentObjectWeight)
        .build();
  }

  @Override
  public Integer call() throws Exception {
    if (vaeFrom != null && initFrom != null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--vae-from and --init-from: give one (with --init-from, --vae-steps 0 keeps its VAE)");
    }
    BaseModelBuilder.Result r =
        BaseModelBuilder.build(
            out, settings(), new BaseModelBuilder.Start(vaeFrom, initFrom), System.err);
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
