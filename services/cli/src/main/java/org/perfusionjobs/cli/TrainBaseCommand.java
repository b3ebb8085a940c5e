package org.perfusionjobs.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.perfusionjobs.basemodel.BaseModelBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code perfusion train-base}: the project's own base model from the procedural world (issue 5). */
@Command(name = "train-base", mixinStandardHelpOptions = true,
    description = "Train a small text-to-image base model (tokenizer, VAE, text encoder + UNet, Perfusion covariance) on the procedural world"
        + " into a diffusers folder that generate, train and the worker load.")
final class TrainBaseCommand implements Callable<Integer> {
  private static final BaseModelBuilder.Settings D = BaseModelBuilder.Settings.defaults();

  @Spec CommandSpec spec;

  @Option(names = "--out", required = true, description = "model folder to write")
  Path out;

  @Option(names = "--vae-steps", description = "VAE optimiser steps (default ${DEFAULT-VALUE})")
  int vaeSteps = D.vaeSteps();

  @Option(names = "--unet-steps", description = "text encoder + UNet optimiser steps (default ${DEFAULT-VALUE})")
  int unetSteps = D.unetSteps();

  @Option(names = "--batch", description = "batch size of both stages (default ${DEFAULT-VALUE})")
  int batch = D.batch();

  @Option(names = "--seed", description = "seed of the training images, initial weights and noise (default ${DEFAULT-VALUE})")
  long seed = D.seed();

  @Option(names = "--images", description = "world samples to train on (default ${DEFAULT-VALUE})")
  int images = D.trainImages();

  @Option(names = "--captions-for-cinv", description = "fresh world captions for the Perfusion covariance (default ${DEFAULT-VALUE})")
  int cinvCaptions = D.captionsForCinv();

  @Option(names = "--vae-channels", split = ",", description = "VAE block_out_channels (default 32,64,64: spatial factor 4)")
  List<Integer> vaeChannels = D.vaeChannels();

  @Option(names = "--latent-channels", description = "channels of the VAE's latents, which the UNet denoises (default ${DEFAULT-VALUE})")
  int latentChannels = D.latentChannels();

  @Option(names = "--unet-channels", split = ",", description = "UNet block_out_channels, cross attention in every level (default 64,128)")
  List<Integer> unetChannels = D.unetChannels();

  @Option(names = "--unet-heads", description = "attention heads per UNet level (default ${DEFAULT-VALUE})")
  int unetHeads = D.unetHeads();

  @Option(names = "--text-width", description = "text encoder hidden size = UNet cross_attention_dim (default ${DEFAULT-VALUE})")
  int textWidth = D.textWidth();

  @Option(names = "--text-layers", description = "text encoder layers (default ${DEFAULT-VALUE})")
  int textLayers = D.textLayers();

  @Option(names = "--text-heads", description = "text encoder attention heads (default ${DEFAULT-VALUE})")
  int textHeads = D.textHeads();

  @Option(names = "--frozen-text-fraction", description = "share of the UNet steps trained with the text encoder frozen, at the end (default ${DEFAULT-VALUE})")
  float frozenTextFraction = D.frozenTextFraction();

  @Option(names = "--text-pretrain-steps", description = "text-only pre-training steps of the text encoder before the UNet (default ${DEFAULT-VALUE})")
  int textPretrainSteps = D.textPretrainSteps();

  @Option(names = "--detailed-captions", description = "share of training captions that say every attribute (default ${DEFAULT-VALUE})")
  double detailedCaptions = D.detailedCaptions();

  @Option(names = "--high-noise-weight-cap", description = "cap of the per-timestep weight min(1 + 1/SNR, cap) of the epsilon loss; 1: unweighted (default ${DEFAULT-VALUE})")
  float highNoiseWeightCap = D.highNoiseWeightCap();

  @Option(names = "--striped-fraction", description = "share of training objects drawn striped; no caption mentions it (default ${DEFAULT-VALUE})")
  double stripedFraction = D.stripedFraction();

  @Option(names = "--patterns", split = ",", description = "hidden patterns the striped share is drawn from: stripes, dots, checks, ring, halves"
      + " (default stripes, revision 7's data; the next base model: all five)")
  List<String> patterns = D.patterns().stream().map(org.perfusionjobs.world.Pattern::word).toList();

  @Option(names = "--two-object-fraction", description = "share of training scenes with two objects (default ${DEFAULT-VALUE})")
  double twoObjectFraction = D.twoObjectFraction();

  @Option(names = "--vae-object-weight", description = "weight of object pixels in the VAE's L1, against 1 for the background (default ${DEFAULT-VALUE})")
  float vaeObjectWeight = D.vaeObjectWeight();

  @Option(names = "--vae-lr", description = "peak learning rate of the VAE (default ${DEFAULT-VALUE})")
  float vaeLearningRate = D.vaeLearningRate();

  @Option(names = "--unet-lr", description = "peak learning rate of the text encoder + UNet (default ${DEFAULT-VALUE})")
  float unetLearningRate = D.unetLearningRate();

  @Option(names = "--latent-object-weight", description = "weight of object latent pixels in the epsilon loss, against 1 for the background (default ${DEFAULT-VALUE})")
  float latentObjectWeight = D.latentObjectWeight();

  @Option(names = "--unet-average-decay", description = "decay of the UNet's weight average, which is saved; 0: save the last weights (default ${DEFAULT-VALUE})")
  float unetAverageDecay = D.unetAverageDecay();

  @Option(names = "--text-lr-scale", description = "the text encoder's learning rate in the joint phase as a share of --unet-lr (default ${DEFAULT-VALUE})")
  float textLearningRateScale = D.textLearningRateScale();

  @Option(names = "--vae-from", description = "reuse this model folder's vae/ (scaling factor included) instead of training one")
  Path vaeFrom;

  @Override
  public Integer call() throws Exception {
    BaseModelBuilder.Settings s = D.withSteps(vaeSteps, unetSteps, batch).withData(seed, images, cinvCaptions)
        .withWidths(vaeChannels, unetChannels, unetHeads, textWidth, textLayers, textHeads)
        .withLatentChannels(latentChannels)
        .withFrozenTextFraction(frozenTextFraction).withTextPretraining(textPretrainSteps, detailedCaptions)
        .withHighNoiseWeightCap(highNoiseWeightCap).withObjects(stripedFraction, vaeObjectWeight, latentObjectWeight)
        .withUnetAverage(unetAverageDecay).withLearningRates(vaeLearningRate, unetLearningRate).withTwoObjectFraction(twoObjectFraction)
        .withTextLearningRateScale(textLearningRateScale)
        .withPatterns(patterns.stream().map(org.perfusionjobs.world.Pattern::fromName).toList());
    BaseModelBuilder.Result r = BaseModelBuilder.build(out, s, vaeFrom, System.err);
    spec.commandLine().getOut().printf("%s%nscaling_factor %.5f, last VAE loss %.4f, last eps MSE %.4f, %.1f s%n", r.folder().toAbsolutePath(),
        r.scalingFactor(), r.lastVaeLoss(), r.lastDiffusionLoss(), r.total().toMillis() / 1000.0);
    return 0;
  }
}
