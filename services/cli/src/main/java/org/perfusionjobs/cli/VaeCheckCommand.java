package org.perfusionjobs.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.perfusionjobs.evaluator.Accuracy;
import org.perfusionjobs.evaluator.Evaluator;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code perfusion vae-check}: what survives a VAE. Fresh world images go through each given vae/
 * folder (encode to the posterior mean, decode) and the evaluator reads them back; a UNet can
 * draw no better than its VAE decodes, so this bounds the base model's scores.
 */
@Command(name = "vae-check", mixinStandardHelpOptions = true,
    description = "Put fresh world images through one or more VAEs (encode, decode) and report, per attribute, how often the evaluator reads them"
        + " back right; the same images for every VAE, so the numbers compare side by side.")
final class VaeCheckCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--vae", required = true, split = ",", description = "vae/ folders to compare, comma-separated")
  List<Path> vaes;

  @Option(names = "--evaluator", defaultValue = "models/world-v1/evaluator", description = "evaluator folder (default ${DEFAULT-VALUE})")
  Path evaluator;

  @Option(names = "--images", defaultValue = "500", description = "fresh world images (default ${DEFAULT-VALUE})")
  int images;

  @Option(names = "--seed", defaultValue = "31337", description = "seed of the images (default ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--striped-fraction", defaultValue = "0", description = "share of striped objects in the images (default ${DEFAULT-VALUE})")
  double stripedFraction;

  @Override
  public Integer call() throws Exception {
    if (images < 1) {
      throw new IllegalArgumentException("--images must be at least 1, got " + images);
    }
    var out = spec.commandLine().getOut();
    List<Sample> samples = new World(World.DEFAULT_TWO_OBJECT_FRACTION, stripedFraction).samples(seed, images).toList();
    try (Evaluator ev = Evaluator.load(evaluator)) {
      out.printf("%d fresh world images (seed %d, %.0f%% striped)%n", images, seed, 100 * stripedFraction);
      out.printf("original images: %s%n", TrainEvaluatorCommand.format(Accuracy.measure(ev, samples)));
      for (Path vae : vaes) {
        long t0 = System.nanoTime();
        Accuracy a = Accuracy.measure(ev, VaeRoundTrip.apply(vae, samples));
        out.printf("%s: %s (%.0f s)%n", vae, TrainEvaluatorCommand.format(a), (System.nanoTime() - t0) / 1e9);
      }
    }
    return 0;
  }
}
