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
import org.perfusionjobs.engine.train.LearningRateSchedule;
import org.perfusionjobs.engine.train.Losses;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.World;

/**
 * Trains an {@link Evaluator} on fresh world images every step (no sample is seen twice), with
 * stripes on a share of the objects so that the pattern head learns the demo concept's fill.
 * Each crop is softly blurred and noised at random, because generated images are never as crisp
 * as the renderer's. Empty cells outnumber objects about six to one; a third of them are kept.
 */
public final class EvaluatorTrainer {
  /** Training settings. */
  public record Options(int steps, int imagesPerStep, float learningRate, double twoObjectFraction, double stripedFraction, long seed) {
    public Options {
      if (steps < 1 || imagesPerStep < 1 || !(learningRate > 0) || !(twoObjectFraction >= 0 && twoObjectFraction <= 1)
          || !(stripedFraction >= 0 && stripedFraction <= 1)) {
        throw new IllegalArgumentException("invalid evaluator training options: steps " + steps + ", images per step " + imagesPerStep + ", lr "
            + learningRate + ", two-object fraction " + twoObjectFraction + ", striped fraction " + stripedFraction);
      }
    }

    /** 2000 steps of 32 images, lr 2e-3 (cosine to a tenth), 35% two-object scenes, 25% striped objects, seed 0. */
    public static Options defaults() {
      return new Options(2000, 32, 2e-3f, 0.35, 0.25, 0);
    }

    public Options withSteps(int n) {
      return new Options(n, imagesPerStep, learningRate, twoObjectFraction, stripedFraction, seed);
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
    World world = new World(o.twoObjectFraction(), o.stripedFraction());
    SplittableRandom rnd = new SplittableRandom(o.seed());
    NDManager m = evaluator.net.convIn.weight.get().getManager();
    float last = Float.NaN;
    try (AdamW opt = new AdamW(new ArrayList<>(evaluator.net.namedParameters().values()), o.learningRate(), 1e-4f)) {
      for (int step = 0; step < o.steps(); step++) {
        opt.setLearningRate(LearningRateSchedule.warmupCosine(o.learningRate(), step, o.steps(), 0));
        List<Sample> images = new ArrayList<>(world.samples(rnd.nextLong(), pool.isEmpty() ? o.imagesPerStep() : (o.imagesPerStep() + 1) / 2).toList());
        while (images.size() < o.imagesPerStep()) {
          images.add(pool.get(rnd.nextInt(pool.size())));
        }
        Batch b = batch(images, rnd);
        try (NDScope scope = new NDScope()) {
          scope.suppressNotUsedWarning();
          NDArray x = m.create(b.crops, new Shape(b.n, 3, CellCrops.CROP, CellCrops.CROP));
          try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray logits = evaluator.net.forward(x);
            NDArray loss = crossEntropy(logits, Heads.PRESENT, b.labels, b.everyRow)
                .add(crossEntropy(logits, Heads.BACKGROUND, b.labels, b.everyRow))
                .add(crossEntropy(logits, Heads.SHAPE, b.labels, b.objectRows))
                .add(crossEntropy(logits, Heads.COLOUR, b.labels, b.objectRows))
                .add(crossEntropy(logits, Heads.SIZE, b.labels, b.objectRows))
                .add(crossEntropy(logits, Heads.PATTERN, b.labels, b.objectRows));
            last = loss.getFloat();
            if (!Float.isFinite(last)) {
              throw new IllegalStateException("evaluator training diverged at step " + (step + 1) + ": loss " + last);
            }
            gc.backward(loss);
          }
          opt.step();
        }
        progress.onStep(step + 1, last);
      }
    }
    return last;
  }

  /** Mean cross-entropy of one head over the rows whose weight is 1. */
  private static NDArray crossEntropy(NDArray logits, Heads h, int[][] labels, float[] rowWeights) {
    return Losses.meanNll(logits.get(h.columns()).logSoftmax(1), labels[h.ordinal()], rowWeights);
  }

  /** Crops and labels of one step. */
  private record Batch(int n, float[] crops, int[][] labels, float[] everyRow, float[] objectRows) {}

  private static Batch batch(List<Sample> samples, SplittableRandom rnd) {
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
          label[Heads.PATTERN.ordinal()] = o.pattern().ordinal();
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

  /** A random mix towards the 3x3 box blur (half of the crops), then Gaussian noise of a random strength up to 0.08. */
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
