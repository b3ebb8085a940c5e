package org.perfusionjobs.evaluator;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.perfusionjobs.engine.train.AdamW;
import org.perfusionjobs.engine.train.GradientRetry;
import org.perfusionjobs.engine.train.LearningRateSchedule;
import org.perfusionjobs.engine.train.Losses;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.World;

/**
 * Trains an {@link Evaluator} on fresh world images every step (no sample is seen twice), with
 * hidden patterns on a share of the objects so that the pattern head learns concepts' fills, and
 * optionally crowded scenes so that presence, hence the count, is learned beyond two objects. Each
 * crop is softly blurred and noised at random, because generated images are never as crisp as the
 * renderer's. Empty cells outnumber objects about six to one; a third of them are kept.
 */
public final class EvaluatorTrainer {
  /**
   * Training settings.
   *
   * @param stripedFraction share of objects drawn with a hidden pattern, one of {@code patterns}
   * @param patterns the hidden patterns the evaluator learns (it must know them: {@link
   *     Evaluator#untrained(long, List)})
   * @param crowdedFraction share of images that are {@link #CROWDED} scenes (3-4 objects), for
   *     counting
   */
  public record Options(
      int steps,
      int imagesPerStep,
      float learningRate,
      double twoObjectFraction,
      double stripedFraction,
      long seed,
      List<Pattern> patterns,
      double crowdedFraction) {
    /** The crowded scenes training draws: three or four objects, patterned as the rest. */
    public static final int CROWDED_MIN = 3;

    public static final int CROWDED_MAX = 4;

    public Options {
      patterns = List.copyOf(patterns);
      if (steps < 1
          || imagesPerStep < 1
          || !(learningRate > 0)
          || !(twoObjectFraction >= 0 && twoObjectFraction <= 1)
          || !(stripedFraction >= 0 && stripedFraction <= 1)
          || patterns.isEmpty()
          || patterns.contains(Pattern.PLAIN)
          || !(crowdedFraction >= 0 && crowdedFraction <= 1)) {
        throw new IllegalArgumentException(
            "invalid evaluator training options: steps "
                + steps
                + ", images per step "
                + imagesPerStep
                + ", lr "
                + learningRate
                + ", two-object fraction "
                + twoObjectFraction
                + ", striped fraction "
                + stripedFraction
                + ", patterns "
                + patterns
                + " (hidden ones, not plain), crowded fraction "
                + crowdedFraction);
      }
    }

    /** Stripes only and no crowded scenes: the recipe of world-v1's evaluator. */
    public Options(
        int steps,
        int imagesPerStep,
        float learningRate,
        double twoObjectFraction,
        double stripedFraction,
        long seed) {
      this(
          steps,
          imagesPerStep,
          learningRate,
          twoObjectFraction,
          stripedFraction,
          seed,
          List.of(Pattern.STRIPES),
          0);
    }

    /**
     * 2000 steps of 32 images, lr 2e-3 (cosine to a tenth), 35% two-object scenes, 25% striped
     * objects, seed 0.
     */
    public static Options defaults() {
      return new Options(2000, 32, 2e-3f, 0.35, 0.25, 0);
    }

    public Options withSteps(int n) {
      return new Options(
          n,
          imagesPerStep,
          learningRate,
          twoObjectFraction,
          stripedFraction,
          seed,
          patterns,
          crowdedFraction);
    }

    /** Patterned objects drawn from {@code hidden} and a share of crowded images. */
    public Options withPatterns(List<Pattern> hidden, double crowded) {
      return new Options(
          steps,
          imagesPerStep,
          learningRate,
          twoObjectFraction,
          stripedFraction,
          seed,
          hidden,
          crowded);
    }

    /** The world the training images (other than crowded ones) come from. */
    public World world() {
      return new World(twoObjectFraction, stripedFraction, 0, patterns);
    }

    /** The crowded scenes training mixes in. */
    public CrowdedScenes crowded() {
      return new CrowdedScenes(CROWDED_MIN, CROWDED_MAX, stripedFraction, patterns);
    }
  }

  /** Called every step with the 1-based step and the loss. */
  @FunctionalInterface
  public interface Progress {
    void onStep(int step, float loss);
  }

  private EvaluatorTrainer() {}

  /** Trains {@code evaluator} in place on fresh renders only; returns the last step's loss. */
  public static float train(Evaluator evaluator, Options o, Progress progress) {
    return train(evaluator, o, List.of(), progress);
  }

  /**
   * Trains {@code evaluator} in place; returns the last step's loss. When {@code pool} is not
   * empty, half of each step's images are drawn from it instead of rendered fresh: samples whose
   * images went through a model's VAE (encode, decode), so that the evaluator also knows how that
   * decoder draws each shape, as every generated image is drawn by it.
   */
  public static float train(Evaluator evaluator, Options o, List<Sample> pool, Progress progress) {
    o.patterns()
        .forEach(
            evaluator.layout
                ::patternIndex); // one-line error before any work when the evaluator lacks one
    World world = o.world();
    CrowdedScenes crowded = o.crowded();
    SplittableRandom rnd = new SplittableRandom(o.seed());
    NDManager m = evaluator.net.convIn.weight.get().getManager();
    float last = Float.NaN;
    try (AdamW opt =
        new AdamW(
            new ArrayList<>(evaluator.net.namedParameters().values()), o.learningRate(), 1e-4f)) {
      for (int step = 0; step < o.steps(); step++) {
        opt.setLearningRate(
            LearningRateSchedule.warmupCosine(o.learningRate(), step, o.steps(), 0));
        List<Sample> images =
            new ArrayList<>(
                world
                    .samples(
                        rnd.nextLong(),
                        pool.isEmpty() ? o.imagesPerStep() : (o.imagesPerStep() + 1) / 2)
                    .toList());
        while (images.size() < o.imagesPerStep()) {
          images.add(pool.get(rnd.nextInt(pool.size())));
        }
        // Drawn only when asked for, so that the default recipe trains on exactly world-v1's
        // stream.
        if (o.crowdedFraction() > 0) {
          for (int i = 0; i < images.size(); i++) {
            if (rnd.nextDouble() < o.crowdedFraction()) {
              images.set(i, crowded.sample(rnd.nextLong()));
            }
          }
        }
        Batch b = batch(images, evaluator.layout, rnd);
        try (NDScope scope = new NDScope()) {
          scope.suppressNotUsedWarning();
          NDArray x = m.create(b.crops, new Shape(b.n, 3, CellCrops.CROP, CellCrops.CROP));
          final int at = step;
          last =
              GradientRetry.untilFinite(
                  step + 1,
                  opt,
                  () -> {
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                      NDArray logits = evaluator.net.forward(x);
                      HeadLayout l = evaluator.layout;
                      NDArray loss =
                          crossEntropy(logits, l, Heads.PRESENT, b.labels, b.everyRow)
                              .add(crossEntropy(logits, l, Heads.BACKGROUND, b.labels, b.everyRow))
                              .add(crossEntropy(logits, l, Heads.SHAPE, b.labels, b.objectRows))
                              .add(crossEntropy(logits, l, Heads.COLOUR, b.labels, b.objectRows))
                              .add(crossEntropy(logits, l, Heads.SIZE, b.labels, b.objectRows))
                              .add(crossEntropy(logits, l, Heads.PATTERN, b.labels, b.objectRows));
                      float value = loss.getFloat();
                      GradientRetry.requireFiniteLoss("evaluator training", at + 1, value);
                      gc.backward(loss);
                      return value;
                    }
                  });
          opt.step();
        }
        progress.onStep(step + 1, last);
      }
    }
    return last;
  }

  /** Mean cross-entropy of one head over the rows whose weight is 1. */
  private static NDArray crossEntropy(
      NDArray logits, HeadLayout layout, Heads h, int[][] labels, float[] rowWeights) {
    return Losses.meanNll(
        logits.get(layout.columns(h)).logSoftmax(1), labels[h.ordinal()], rowWeights);
  }

  /** Crops and labels of one step. */
  private record Batch(
      int n, float[] crops, int[][] labels, float[] everyRow, float[] objectRows) {}

  private static Batch batch(List<Sample> samples, HeadLayout layout, SplittableRandom rnd) {
    List<float[]> crops = new ArrayList<>();
    List<int[]> rows = new ArrayList<>(); // per kept crop: label per head
    float[] all = new float[CellCrops.CELLS * CellCrops.FLOATS];
    for (Sample s : samples) {
      CellCrops.write(s.image(), all, 0);
      for (int cell = 0; cell < CellCrops.CELLS; cell++) {
        SceneObject o = null;
        for (SceneObject x : s.scene().objects()) {
          if (x.position().ordinal() == cell) {
            o = x;
          }
        }
        if (o == null && rnd.nextInt(3) != 0) {
          continue;
        }
        float[] crop = new float[CellCrops.FLOATS];
        System.arraycopy(all, cell * CellCrops.FLOATS, crop, 0, CellCrops.FLOATS);
        augment(crop, rnd);
        crops.add(crop);
        int[] label = new int[Heads.values().length];
        label[Heads.PRESENT.ordinal()] = o == null ? 0 : 1;
        label[Heads.BACKGROUND.ordinal()] = s.scene().background().ordinal();
        if (o != null) {
          label[Heads.SHAPE.ordinal()] = o.shape().ordinal();
          label[Heads.COLOUR.ordinal()] = o.colour().ordinal();
          label[Heads.SIZE.ordinal()] = o.size().ordinal();
          label[Heads.PATTERN.ordinal()] = layout.patternIndex(o.pattern());
        }
        rows.add(label);
      }
    }
    int n = crops.size();
    float[] x = new float[n * CellCrops.FLOATS];
    int[][] labels = new int[Heads.values().length][n];
    float[] every = new float[n];
    float[] objects = new float[n];
    for (int r = 0; r < n; r++) {
      System.arraycopy(crops.get(r), 0, x, r * CellCrops.FLOATS, CellCrops.FLOATS);
      for (Heads h : Heads.values()) {
        labels[h.ordinal()][r] = rows.get(r)[h.ordinal()];
      }
      every[r] = 1;
      objects[r] = rows.get(r)[Heads.PRESENT.ordinal()];
    }
    return new Batch(n, x, labels, every, objects);
  }

  /**
   * A random mix towards the 3x3 box blur (half of the crops), then Gaussian noise of a random
   * strength up to 0.08.
   */
  static void augment(float[] crop, SplittableRandom rnd) {
    int s = CellCrops.CROP;
    if (rnd.nextBoolean()) {
      float a = (float) rnd.nextDouble(0.2, 0.9);
      float[] src = crop.clone();
      for (int c = 0; c < 3; c++) {
        int base = c * s * s;
        for (int y = 0; y < s; y++) {
          for (int x = 0; x < s; x++) {
            float sum = 0;
            int k = 0;
            for (int dy = -1; dy <= 1; dy++) {
              for (int dx = -1; dx <= 1; dx++) {
                int yy = y + dy;
                int xx = x + dx;
                if (yy >= 0 && yy < s && xx >= 0 && xx < s) {
                  sum += src[base + yy * s + xx];
                  k++;
                }
              }
            }
            crop[base + y * s + x] = (1 - a) * src[base + y * s + x] + a * sum / k;
          }
        }
      }
    }
    double sigma = rnd.nextDouble(0.08);
    for (int i = 0; i < crop.length; i++) {
      crop[i] += (float) (sigma * gaussian(rnd));
    }
  }

  private static double gaussian(SplittableRandom rnd) {
    double u = 1 - rnd.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd.nextDouble());
  }
}
