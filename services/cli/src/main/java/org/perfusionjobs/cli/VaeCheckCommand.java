package org.perfusionjobs.cli;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.evaluator.Accuracy;
import org.perfusionjobs.evaluator.Evaluator;
import org.perfusionjobs.evaluator.ScenePrediction;
import org.perfusionjobs.evaluator.ShapeConfusion;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Rendering;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.Scene;
import org.perfusionjobs.world.Size;
import org.perfusionjobs.world.World;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion vae-check}: what survives a VAE. Fresh world images go through each given vae/
 * folder (encode to the posterior mean, decode) and the evaluator reads them back; a UNet can draw
 * no better than its VAE decodes, so this bounds the base model's scores.
 */
@Command(
    name = "vae-check",
    mixinStandardHelpOptions = true,
    description =
        "Put fresh world images through one or more VAEs (encode, decode) and report, per"
            + " attribute, how often the evaluator reads them back right; the same images for every"
            + " VAE, so the numbers compare side by side.")
final class VaeCheckCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--vae",
      required = true,
      split = ",",
      description = "vae/ folders to compare, comma-separated")
  List<Path> vaes;

  @Option(
      names = "--evaluator",
      defaultValue = "models/world-v2/evaluator",
      description = "evaluator folder (default ${DEFAULT-VALUE})")
  Path evaluator;

  @Option(
      names = "--images",
      defaultValue = "500",
      description = "fresh world images (default ${DEFAULT-VALUE})")
  int images;

  @Option(
      names = "--seed",
      defaultValue = "31337",
      description = "seed of the images (default ${DEFAULT-VALUE})")
  long seed;

  @Option(
      names = "--patterns",
      split = ",",
      description =
          "hidden patterns the patterned share is drawn from: stripes, dots, checks, ring, halves"
              + " (default: stripes)")
  List<String> patterns = List.of("stripes");

  @Option(
      names = "--striped-fraction",
      defaultValue = "0",
      description =
          "share of patterned objects in the images, each with a pattern from --patterns (default"
              + " ${DEFAULT-VALUE})")
  double stripedFraction;

  @Option(
      names = "--shapes",
      description =
          "also print, per VAE, how each true shape is read (all sizes) and how often it is right"
              + " per size")
  boolean shapes;

  @Option(
      names = "--concept",
      description =
          "also, per VAE, how often the concept SPEC (e.g. shape=star,colour=red,pattern=stripes)"
              + " drawn alone, as the world draws it, in --images fresh images (cell, size and"
              + " background uniform) is found after the round trip: what a UNet that reproduced"
              + " the training latents would score for it (an estimate of the ceiling, not a"
              + " bound on sampling); repeatable")
  List<String> concepts = new ArrayList<>();

  @Option(
      names = "--grid",
      description = "PNG file: the first 32 images, each row of originals above its round trips")
  Path grid;

  @Override
  public Integer call() throws Exception {
    if (images < 1) {
      throw new IllegalArgumentException("--images must be at least 1, got " + images);
    }
    var out = spec.commandLine().getOut();
    List<ConceptSpec> specs = new ArrayList<>();
    for (String c : concepts) {
      try {
        specs.add(ConceptSpec.parse(c));
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--concept " + e.getMessage());
      }
    }
    List<Sample> samples =
        new World(
                World.DEFAULT_TWO_OBJECT_FRACTION,
                stripedFraction,
                0,
                patterns.stream().map(Pattern::fromName).toList())
            .samples(seed, images)
            .toList();
    try (Evaluator ev = Evaluator.load(evaluator)) {
      out.printf(
          "%d fresh world images (seed %d, %.0f%% patterned: %s)%n",
          images, seed, 100 * stripedFraction, String.join(",", patterns));
      out.printf(
          "original images: %s%n", TrainEvaluatorCommand.format(Accuracy.measure(ev, samples)));
      for (Path vae : vaes) {
        long t0 = System.nanoTime();
        List<Sample> decoded = VaeRoundTrip.apply(vae, samples);
        List<ScenePrediction> read =
            ev.predict(decoded.stream().map(Sample::image).toList()); // once, for both tables
        Accuracy a = Accuracy.of(decoded, read);
        out.printf(
            "%s: %s (%.0f s)%n",
            vae, TrainEvaluatorCommand.format(a), (System.nanoTime() - t0) / 1e9);
        if (grid != null) {
          List<BufferedImage> pairs = new ArrayList<>();
          for (int row = 0; row < 4; row++) {
            for (int i = row * 8; i < row * 8 + 8; i++) {
              pairs.add(samples.get(i % images).image());
            }
            for (int i = row * 8; i < row * 8 + 8; i++) {
              pairs.add(decoded.get(i % images).image());
            }
          }
          Path file =
              vaes.size() == 1
                  ? grid
                  : grid.resolveSibling(vaes.indexOf(vae) + "-" + grid.getFileName());
          ImageCodec.writePng(EvalCommand.grid(pairs, 8, 8), file);
          out.printf("grid of the first 32 images (rows: original, round trip) -> %s%n", file);
        }
        if (shapes) {
          out.printf("%s", ShapeConfusion.measure(decoded, read).format());
        }
      }
      for (ConceptSpec c : specs) {
        List<Sample> drawn = conceptSamples(c, images, seed);
        StringBuilder line = new StringBuilder("concept " + c.text() + ": ");
        line.append(found(c, drawn, ev.predict(drawn.stream().map(Sample::image).toList())));
        line.append(" of the originals");
        for (Path vae : vaes) {
          List<Sample> decoded = VaeRoundTrip.apply(vae, drawn);
          line.append("; after ")
              .append(vae)
              .append(": ")
              .append(found(c, decoded, ev.predict(decoded.stream().map(Sample::image).toList())));
        }
        out.println(line);
      }
    }
    return 0;
  }

  /** {@code n} images of the concept alone, cell, size and background drawn uniformly. */
  static List<Sample> conceptSamples(ConceptSpec c, int n, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    World world = new World();
    List<Sample> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Position p = Position.values()[rnd.nextInt(Position.values().length)];
      Size size = Size.values()[rnd.nextInt(Size.values().length)];
      Background bg = Background.values()[rnd.nextInt(Background.values().length)];
      Scene scene = new Scene(bg, List.of(c.object(p, size)));
      Rendering r = world.render(scene, seed + i);
      out.add(new Sample(seed + i, scene, r.image(), r.masks(), ""));
    }
    return out;
  }

  /** "N of M (x%), small a/b, medium c/d, large e/f": images in which the concept is found. */
  static String found(ConceptSpec c, List<Sample> drawn, List<ScenePrediction> read) {
    int[] hit = new int[Size.values().length];
    int[] all = new int[Size.values().length];
    for (int i = 0; i < drawn.size(); i++) {
      int z = drawn.get(i).scene().objects().get(0).size().ordinal();
      all[z]++;
      hit[z] += read.get(i).objects().stream().anyMatch(c::matches) ? 1 : 0;
    }
    int h = Arrays.stream(hit).sum();
    StringBuilder b =
        new StringBuilder(
            String.format(
                Locale.ROOT, "%d of %d (%.1f%%)", h, drawn.size(), 100.0 * h / drawn.size()));
    for (Size z : Size.values()) {
      b.append(
          String.format(
              Locale.ROOT, ", %s %d/%d", z.words().get(0), hit[z.ordinal()], all[z.ordinal()]));
    }
    return b.toString();
  }
}
