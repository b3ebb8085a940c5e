package org.perfusionjobs.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;
import org.perfusionjobs.engine.scheduler.NoiseSchedule;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion text-reliance}: how much a world model's UNet uses its text, per noise level.
 * Fresh world images are encoded, noised at fixed timesteps with fixed noise, and the epsilon MSE
 * is measured with each image's own caption, an empty caption and another image's caption. Where
 * the right caption does not beat the empty one, the words decide nothing at that noise level.
 */
@Command(
    name = "text-reliance",
    mixinStandardHelpOptions = true,
    description =
        "Epsilon MSE of fresh world images with their caption, an empty one and another image's,"
            + " per timestep.")
final class TextRelianceCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, description = "world model folder")
  Path model;

  @Option(
      names = "--images",
      defaultValue = "24",
      description = "fresh world images (default: ${DEFAULT-VALUE})")
  int images;

  @Option(
      names = "--seed",
      defaultValue = "555",
      description = "seed of the images (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(
      names = "--timesteps",
      split = ",",
      defaultValue = "100,300,500,700,900",
      description = "timesteps (default: ${DEFAULT-VALUE})")
  List<Long> timesteps;

  @Override
  public Integer call() throws Exception {
    if (images < 2) {
      throw new IllegalArgumentException(
          "--images must be at least 2 (a shuffled caption needs another image), got " + images);
    }
    var out = spec.commandLine().getOut();
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu());
        NDManager m = sd.manager().newSubManager()) {
      List<Sample> samples = new World().samples(seed, images).toList();
      NDArray pixels = ImageCodec.toTensor(samples.stream().map(Sample::image).toList(), m);
      NDArray latents = sd.vae().encode(pixels).mean().mul(sd.vae().config().scalingFactor());
      NoiseSchedule schedule = NoiseSchedule.of(sd.schedulerConfig());
      List<String> right = samples.stream().map(Sample::caption).toList();
      List<String> shuffled = new ArrayList<>(right);
      Collections.rotate(shuffled, 1);
      List<String> empty = Collections.nCopies(images, "");
      NDArray[] texts = {
        sd.encodePrompts(right, m), sd.encodePrompts(empty, m), sd.encodePrompts(shuffled, m)
      };
      out.printf("%-6s %10s %10s %10s %12s%n", "t", "right", "empty", "shuffled", "right/empty");
      for (long t : timesteps) {
        NDArray noise = new NoiseGenerator(seed + t).normal(latents.getShape(), m);
        NDArray tt = m.full(new Shape(images), t, DataType.INT64);
        NDArray noisy = schedule.addNoise(latents, noise, tt);
        float[] mse = new float[3];
        for (int k = 0; k < 3; k++) {
          mse[k] =
              sd.unet()
                  .forward(noisy, tt, Conditioning.of(texts[k]))
                  .sub(noise)
                  .square()
                  .mean()
                  .getFloat();
        }
        out.printf(
            "%-6d %10.5f %10.5f %10.5f %12.3f%n", t, mse[0], mse[1], mse[2], mse[0] / mse[1]);
      }
    }
    return 0;
  }
}
