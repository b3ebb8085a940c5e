package org.perfusionjobs.engine.perfusion;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.testdata.TestData;

/** The tiny reference pipeline with a Cinv from captions over its vocabulary, shared by tests. */
final class TinyModel {
  static final String[] WORDS = {
    "photo", "toy", "car", "bird", "beach", "green", "yellow", "small", "wooden", "drawing",
    "sunset", "style"
  };
  private static StableDiffusionPipeline sd;

  private TinyModel() {}

  static synchronized StableDiffusionPipeline pipeline() throws Exception {
    if (sd == null) {
      sd = StableDiffusionPipeline.load(TestData.sdTinyRef(), EngineOptions.cpu());
      PerfusionModel.of(sd)
          .setCovariance(CovarianceBuilder.compute(sd, captions(), false, "test", n -> {}));
    }
    return sd;
  }

  /** A concept trained for 3 quick steps on four squares of {@code color}: enough to differ. */
  static Concept quickConcept(
      PerfusionModel perfusion, String word, String superclass, Color color, long seed) {
    TrainingImages images =
        new TrainingImages(TinyModel.images(4, color, false), TinyModel.images(4, color, true));
    TrainingConfig cfg =
        TrainingConfig.defaults(word, superclass)
            .withSteps(3)
            .withBatch(2, 2)
            .withSeed(seed)
            .withCheckpointEvery(100)
            .withLearningRates(0.05f, 0.01f);
    return perfusion.trainer().train(images, cfg, null, p -> {}, s -> {}, () -> false);
  }

  /** Two- and three-word combinations of the vocabulary: enough tokens for a 32-wide Cinv. */
  static List<String> captions() {
    List<String> out = new ArrayList<>();
    for (String a : WORDS) {
      for (String b : WORDS) {
        out.add("a " + a + " " + b);
        out.add("the " + b + " of my " + a + " on the beach");
      }
    }
    return out;
  }

  /** Images of a small coloured square at different places, with exact masks. */
  static List<BufferedImage> images(int n, Color color, boolean masks) {
    List<BufferedImage> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      BufferedImage img =
          new BufferedImage(
              32, 32, masks ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
      Graphics2D g = img.createGraphics();
      g.setColor(masks ? Color.BLACK : new Color(40 + 30 * i, 90, 160));
      g.fillRect(0, 0, 32, 32);
      g.setColor(masks ? Color.WHITE : color);
      g.fillRect(4 + 6 * i, 8 + 3 * i, 12, 12);
      g.dispose();
      out.add(img);
    }
    return out;
  }
}
