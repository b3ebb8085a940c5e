package org.perfusionjobs.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.perfusionjobs.evaluator.Accuracy;
import org.perfusionjobs.evaluator.Evaluator;
import org.perfusionjobs.evaluator.EvaluatorTrainer;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion train-evaluator}: the world classifier that {@code perfusion eval} scores images
 * with.
 */
@Command(
    name = "train-evaluator",
    mixinStandardHelpOptions = true,
    description =
        "Train the evaluator (shape, colour, position, size, pattern, background per cell) on fresh"
            + " world images, measure its accuracy on other fresh images and write it to a folder.")
final class TrainEvaluatorCommand implements Callable<Integer> {
  private static final EvaluatorTrainer.Options D = EvaluatorTrainer.Options.defaults();

  /**
   * Seed of the held-out images the accuracy is measured on (the training stream never draws it).
   */
  static final long TEST_SEED = 987_654_321L;

  @Spec CommandSpec spec;

  @Option(
      names = "--out",
      required = true,
      description = "evaluator folder to write, e.g. models/world-v1/evaluator")
  Path out;

  @Option(names = "--steps", description = "optimiser steps (default ${DEFAULT-VALUE})")
  int steps = D.steps();

  @Option(
      names = "--images-per-step",
      description = "fresh world images per step (default ${DEFAULT-VALUE})")
  int imagesPerStep = D.imagesPerStep();

  @Option(
      names = "--seed",
      description =
          "seed of the initial weights and of the training images (default ${DEFAULT-VALUE})")
  long seed = D.seed();

  @Option(
      names = "--test-images",
      description = "fresh images for the accuracy check (default ${DEFAULT-VALUE})")
  int testImages = 2000;

  @Option(
      names = "--patterns",
      split = ",",
      description =
          "hidden patterns it learns beside plain: stripes, dots, checks, ring, halves"
              + " (default stripes: world-v1's evaluator; the next one: all five)")
  List<String> patterns = List.of("stripes");

  @Option(
      names = "--patterned-fraction",
      description =
          "share of training objects drawn with a hidden pattern (default ${DEFAULT-VALUE})")
  double patternedFraction = D.stripedFraction();

  @Option(
      names = "--crowded-fraction",
      description =
          "share of training images with 3-4 objects, for counting (default ${DEFAULT-VALUE})")
  double crowdedFraction = 0;

  @Option(
      names = "--vae",
      description =
          "a model's vae/ folder: half of the training images, and a second accuracy check, go"
              + " through it (encode, decode)")
  Path vae;

  @Option(
      names = "--vae-pool",
      description =
          "world samples put through --vae once, drawn from at random during training (default"
              + " ${DEFAULT-VALUE})")
  int poolSize = 4096;

  @Override
  public Integer call() throws Exception {
    var err = spec.commandLine().getErr();
    List<Pattern> hidden = patterns.stream().map(Pattern::fromName).toList();
    EvaluatorTrainer.Options o =
        new EvaluatorTrainer.Options(
                steps,
                imagesPerStep,
                D.learningRate(),
                D.twoObjectFraction(),
                patternedFraction,
                seed)
            .withPatterns(hidden, crowdedFraction);
    long t0 = System.nanoTime();
    List<Sample> pool = List.of();
    List<Sample> roundTripTest = List.of();
    if (vae != null) {
      World w = o.world();
      pool = VaeRoundTrip.apply(vae, w.samples(seed + 555, poolSize).toList());
      roundTripTest = VaeRoundTrip.apply(vae, w.samples(TEST_SEED + 2, testImages).toList());
      err.printf(
          "%d training and %d test samples put through %s in %.0f s%n",
          poolSize, testImages, vae, (System.nanoTime() - t0) / 1e9);
    }
    try (Evaluator ev = Evaluator.untrained(seed * 31 + 7, hidden)) {
      int every = Math.max(1, steps / 20);
      double[] window = {0};
      EvaluatorTrainer.train(
          ev,
          o,
          pool,
          (step, loss) -> {
            window[0] += loss;
            if (step % every == 0 || step == steps) {
              err.printf(
                  "step %d/%d: loss %.4f (mean of last %d), %.0f ms/step%n",
                  step,
                  steps,
                  window[0] / (step % every == 0 ? every : step % every),
                  every,
                  (System.nanoTime() - t0) / 1e6 / step);
              window[0] = 0;
            }
          });
      double trainSeconds = (System.nanoTime() - t0) / 1e9;
      Accuracy mixed = Accuracy.measure(ev, o.world(), TEST_SEED, testImages);
      Accuracy plain = Accuracy.measure(ev, new World(), TEST_SEED + 1, testImages);
      Accuracy crowded = Accuracy.measure(ev, o.crowded().samples(TEST_SEED + 3, testImages / 4));
      // Every object patterned: a concept's own case, which the 25% mix above dilutes.
      Accuracy allPatterned =
          Accuracy.measure(
              ev, new World(D.twoObjectFraction(), 1, 0, hidden), TEST_SEED + 4, testImages / 2);
      Map<String, Object> info = new LinkedHashMap<>();
      String patternWords = String.join(",", hidden.stream().map(Pattern::word).toList());
      info.put(
          "command",
          "perfusion train-evaluator --out "
              + out
              + " --steps "
              + steps
              + " --images-per-step "
              + imagesPerStep
              + " --seed "
              + seed
              + (hidden.equals(List.of(Pattern.STRIPES)) ? "" : " --patterns " + patternWords)
              + (patternedFraction != D.stripedFraction()
                  ? " --patterned-fraction " + patternedFraction
                  : "")
              + (crowdedFraction > 0 ? " --crowded-fraction " + crowdedFraction : "")
              + (vae != null ? " --vae " + vae + " --vae-pool " + poolSize : ""));
      info.put("train_seconds", Math.round(trainSeconds));
      // The key keeps its world-v1 name when stripes are the only pattern, so that reports compare.
      info.put(
          hidden.equals(List.of(Pattern.STRIPES))
              ? "accuracy_fresh_world_with_stripes"
              : "accuracy_fresh_world_with_patterns",
          mixed.byAttribute());
      info.put("accuracy_fresh_plain_world", plain.byAttribute());
      info.put("accuracy_fresh_crowded_3_to_4_objects", crowded.byAttribute());
      info.put("accuracy_fresh_every_object_patterned", allPatterned.byAttribute());
      info.put("test_images", testImages);
      if (vae != null) {
        Accuracy rt = Accuracy.measure(ev, roundTripTest);
        info.put("vae", vae.toString());
        info.put("accuracy_fresh_world_through_vae", rt.byAttribute());
        err.printf("accuracy on %d fresh images put through the VAE: %s%n", testImages, format(rt));
      }
      ev.save(out, info);
      err.printf(
          "trained in %.0f s%naccuracy on %d fresh images (%.0f%% two-object, %.0f%% patterned:"
              + " %s): %s%naccuracy on %d fresh plain-world images: %s%naccuracy on %d fresh"
              + " crowded images (3-4 objects): %s%naccuracy on %d fresh images with every object"
              + " patterned: %s%n",
          trainSeconds,
          testImages,
          100 * D.twoObjectFraction(),
          100 * patternedFraction,
          patternWords,
          format(mixed),
          testImages,
          format(plain),
          crowded.images(),
          format(crowded),
          allPatterned.images(),
          format(allPatterned));
      spec.commandLine().getOut().println(out);
    }
    return 0;
  }

  static String format(Accuracy a) {
    StringBuilder sb = new StringBuilder();
    a.byAttribute()
        .forEach(
            (k, v) ->
                sb.append(k).append(' ').append(String.format("%.2f%%", 100 * v)).append(", "));
    return sb.substring(0, sb.length() - 2);
  }
}
