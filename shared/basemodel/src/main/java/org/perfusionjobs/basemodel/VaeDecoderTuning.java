package org.perfusionjobs.basemodel;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.train.LearningRateSchedule;
import org.perfusionjobs.engine.train.VaeDecoderTuner;
import org.perfusionjobs.engine.train.VaeTrainer;
import org.perfusionjobs.engine.vae.AutoencoderKL;
import org.perfusionjobs.world.Sample;
import org.perfusionjobs.world.World;

/**
 * Teaches a base model's VAE decoder to draw patterned objects (the demo concept's stripes) with
 * the encoder, and so the latent space and the UNet, unchanged: fresh world images each step,
 * object pixels weighted, cosine-decayed AdamW; vae/ is rewritten in place.
 */
public final class VaeDecoderTuning {
  /** Test scenes (64 each) measured before and after, apart from the training stream. */
  private static final long PLAIN_TEST_SCENES = 101;

  private static final long STRIPED_TEST_SCENES = 102;
  private static final int TEST_SCENES = 64;

  /**
   * @param striped share of striped objects in the training scenes
   * @param objectWeight loss weight of object pixels (mask) against 1 for the background
   * @param seed of the images and the posterior samples
   * @param latentNoise scale of the posterior noise in the decoded latents: 1 posterior samples, 0
   *     the mean
   */
  public record Options(
      int steps,
      int batch,
      double striped,
      float learningRate,
      float objectWeight,
      long seed,
      float latentNoise) {
    public Options {
      if (steps < 1
          || batch < 1
          || !(striped >= 0 && striped <= 1)
          || !(learningRate > 0)
          || !(objectWeight >= 1)
          || !(latentNoise >= 0)) {
        throw new IllegalArgumentException(
            "invalid decoder tuning options: steps "
                + steps
                + " (>= 1), batch "
                + batch
                + " (>= 1), striped fraction "
                + striped
                + " (in [0, 1]), lr "
                + learningRate
                + " (> 0), object weight "
                + objectWeight
                + " (>= 1), latent noise "
                + latentNoise
                + " (>= 0)");
      }
    }
  }

  /** Mean L1 reconstruction error of the test scenes before and after. */
  public record Result(
      float plainBefore, float stripedBefore, float plainAfter, float stripedAfter) {}

  private VaeDecoderTuning() {}

  /** Tunes {@code model}/vae in place; progress goes to {@code log}. */
  public static Result tune(Path model, Options o, PrintWriter log) throws IOException {
    Path dir = model.resolve("vae");
    World world = new World(World.DEFAULT_TWO_OBJECT_FRACTION, o.striped());
    SplittableRandom rnd = new SplittableRandom(o.seed());
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      AutoencoderKL vae = AutoencoderKL.load(dir, m, DataType.FLOAT32, Device.cpu());
      List<Sample> plainTest =
          new World().samples(o.seed() + PLAIN_TEST_SCENES, TEST_SCENES).toList();
      List<Sample> stripedTest =
          new World(0.3, 1).samples(o.seed() + STRIPED_TEST_SCENES, TEST_SCENES).toList();
      float plainBefore = l1(vae, plainTest, m);
      float stripedBefore = l1(vae, stripedTest, m);
      log.printf(
          "before: L1 %.4f on plain images, %.4f on striped ones%n", plainBefore, stripedBefore);
      long t0 = System.nanoTime();
      try (VaeDecoderTuner tuner =
          new VaeDecoderTuner(vae, o.learningRate(), 1e-2f, o.seed())
              .latentNoise(o.latentNoise())) {
        double window = 0;
        int every = Math.max(1, o.steps() / 20);
        for (int s = 0; s < o.steps(); s++) {
          tuner
              .optimizer()
              .setLearningRate(
                  LearningRateSchedule.warmupCosine(o.learningRate(), s, o.steps(), 0));
          float loss;
          try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            List<Sample> samples = world.samples(rnd.nextLong(), o.batch()).toList();
            loss =
                tuner.step(images(samples, m), ObjectWeights.of(samples, o.objectWeight(), 1, m));
          }
          window += loss;
          if ((s + 1) % every == 0 || s + 1 == o.steps()) {
            log.printf(
                "step %d/%d: L1 %.4f (mean of last %d), %.0f ms/step%n",
                s + 1, o.steps(), window / every, every, (System.nanoTime() - t0) / 1e6 / (s + 1));
            window = 0;
          }
        }
      }
      Result r =
          new Result(plainBefore, stripedBefore, l1(vae, plainTest, m), l1(vae, stripedTest, m));
      log.printf(
          "after: L1 %.4f on plain images, %.4f on striped ones%n",
          r.plainAfter(), r.stripedAfter());
      VaeTrainer.save(vae, dir);
      return r;
    }
  }

  private static NDArray images(List<Sample> samples, NDManager m) {
    return ImageCodec.toTensor(samples.stream().map(Sample::image).toList(), m);
  }

  private static float l1(AutoencoderKL vae, List<Sample> samples, NDManager m) {
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDArray x = images(samples, m);
      return vae.decode(vae.encode(x).mean()).sub(x).abs().mean().getFloat();
    }
  }
}
