package org.perfusionjobs.basemodel;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.train.AdamW;
import org.perfusionjobs.engine.train.GradientRetry;
import org.perfusionjobs.engine.train.Losses;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Caption;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Relation;
import org.perfusionjobs.world.Size;
import org.perfusionjobs.world.World;

/**
 * Teaches a fresh text encoder what world captions say before it meets the UNet, as SD's UNet meets
 * a CLIP encoder that already reads: from the encoder's pooled output (the final state at the end
 * token, CLIP's pooled output; the padding after it is the same token and carries the same
 * summary), linear heads predict each named object's shape, colour, size and position, the relation
 * phrase and the background, each with an "unsaid" class. From a random start the joint epsilon
 * loss alone moves the encoder slowly, so the UNet first learns from near-constant text. The heads
 * are dropped afterwards; nothing of them ships.
 */
public final class TextEncoderPretrainer {
  /**
   * Steps, captions per step, peak learning rate (the base model's warm-up + cosine) and caption
   * seed.
   */
  public record Options(int steps, int batch, float learningRate, long seed) {
    public Options {
      if (steps < 0 || batch < 1 || !(learningRate > 0)) {
        throw new IllegalArgumentException(
            "invalid text encoder pre-training options: steps "
                + steps
                + ", batch "
                + batch
                + ", lr "
                + learningRate);
      }
    }
  }

  /**
   * What each head predicts and its class count; the last class of each is "unsaid" (or "no second
   * object").
   */
  enum Head {
    FIRST_SHAPE(org.perfusionjobs.world.Shape.values().length),
    FIRST_COLOUR(Colour.values().length + 1),
    FIRST_SIZE(Size.values().length + 1),
    FIRST_POSITION(Position.values().length + 1),
    SECOND_SHAPE(org.perfusionjobs.world.Shape.values().length + 1),
    SECOND_COLOUR(Colour.values().length + 1),
    SECOND_SIZE(Size.values().length + 1),
    SECOND_POSITION(Position.values().length + 1),
    RELATION(Relation.values().length + 1),
    BACKGROUND(Background.values().length + 1);

    final int classes;

    Head(int classes) {
      this.classes = classes;
    }

    int offset() {
      int o = 0;
      for (Head h : values()) {
        if (h == this) {
          return o;
        }
        o += h.classes;
      }
      throw new AssertionError();
    }

    static int total() {
      return values()[values().length - 1].offset() + values()[values().length - 1].classes;
    }
  }

  /** Loss and head accuracy (share of heads right, over all captions of the step) of one step. */
  public record StepResult(float loss, float accuracy) {}

  /** Called every step with the 1-based step. */
  @FunctionalInterface
  public interface Progress {
    void onStep(int step, StepResult result);
  }

  private TextEncoderPretrainer() {}

  /**
   * Trains {@code encoder} in place on fresh captions of {@code world}; returns the last step's
   * result.
   */
  public static StepResult train(
      ClipTextModel encoder, ClipTokenizer tokenizer, World world, Options o, Progress progress) {
    NDManager m = encoder.textModel.finalLayerNorm.weight.get().getManager();
    StepResult last = new StepResult(Float.NaN, Float.NaN);
    try (NDManager headWeights = m.newSubManager()) {
      Linear heads =
          new Linear(
              encoder.config().hiddenSize(), Head.total(), true); // weight (63, D), bias (63)
      heads.initRandom(headWeights, DataType.FLOAT32, o.seed() * 31 + 7);
      List<Parameter> params = new ArrayList<>(encoder.namedParameters().values());
      params.addAll(heads.namedParameters().values());
      try (AdamW opt = new AdamW(params, o.learningRate(), 1e-2f)) {
        for (int step = 0; step < o.steps(); step++) {
          opt.setLearningRate(BaseModelBuilder.learningRate(o.learningRate(), step, o.steps()));
          List<Caption> captions = world.describedCaptions(o.seed() * 1_000_003L + step, o.batch());
          try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            int[][] labels = labels(captions);
            List<String> texts = captions.stream().map(Caption::text).toList();
            NDArray ids = tokenizer.encode(texts, m);
            NDArray endAt =
                m.create(
                    endPositions(ids, tokenizer.eosId()),
                    new Shape(o.batch(), ids.getShape().get(1), 1));
            final int at = step;
            last =
                GradientRetry.untilFinite(
                    step + 1,
                    opt,
                    () -> {
                      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray pooled =
                            encoder
                                .forward(ids)
                                .mul(endAt)
                                .sum(new int[] {1}); // (B, D): the state at the end token
                        NDArray logits = heads.forward(pooled); // (B, 63)
                        NDArray loss = null;
                        int right = 0;
                        for (Head h : Head.values()) {
                          NDArray logp =
                              logits
                                  .get(new NDIndex(":, {}:{}", h.offset(), h.offset() + h.classes))
                                  .logSoftmax(1);
                          NDArray ce = Losses.meanNll(logp, labels[h.ordinal()], null);
                          loss = loss == null ? ce : loss.add(ce);
                          long[] predicted = logp.argMax(1).toLongArray();
                          for (int r = 0; r < o.batch(); r++) {
                            right += predicted[r] == labels[h.ordinal()][r] ? 1 : 0;
                          }
                        }
                        float value = loss.getFloat();
                        GradientRetry.requireFiniteLoss("text encoder pre-training", at + 1, value);
                        gc.backward(loss);
                        return new StepResult(
                            value, right / (float) (o.batch() * Head.values().length));
                      }
                    });
            opt.step();
          }
          progress.onStep(step + 1, last);
        }
      }
    }
    return last;
  }

  /** 1 at each caption's first end token, 0 elsewhere: (B * T) floats. */
  private static float[] endPositions(NDArray ids, int eos) {
    long[] all = ids.toLongArray();
    int t = (int) ids.getShape().get(1);
    float[] out = new float[all.length];
    for (int r = 0; r < all.length / t; r++) {
      for (int i = 1; i < t; i++) { // position 0 is the start token
        if (all[r * t + i] == eos) {
          out[r * t + i] = 1;
          break;
        }
      }
    }
    return out;
  }

  /** labels[head][row]. */
  static int[][] labels(List<Caption> captions) {
    int[][] l = new int[Head.values().length][captions.size()];
    for (int r = 0; r < captions.size(); r++) {
      Caption c = captions.get(r);
      Caption.Mention a = c.objects().get(0);
      Caption.Mention b = c.objects().size() > 1 ? c.objects().get(1) : null;
      l[Head.FIRST_SHAPE.ordinal()][r] = a.object().shape().ordinal();
      l[Head.FIRST_COLOUR.ordinal()][r] =
          a.colour() ? a.object().colour().ordinal() : Colour.values().length;
      l[Head.FIRST_SIZE.ordinal()][r] =
          a.size() ? a.object().size().ordinal() : Size.values().length;
      l[Head.FIRST_POSITION.ordinal()][r] =
          a.position() ? a.object().position().ordinal() : Position.values().length;
      l[Head.SECOND_SHAPE.ordinal()][r] =
          b != null ? b.object().shape().ordinal() : org.perfusionjobs.world.Shape.values().length;
      l[Head.SECOND_COLOUR.ordinal()][r] =
          b != null && b.colour() ? b.object().colour().ordinal() : Colour.values().length;
      l[Head.SECOND_SIZE.ordinal()][r] =
          b != null && b.size() ? b.object().size().ordinal() : Size.values().length;
      l[Head.SECOND_POSITION.ordinal()][r] =
          b != null && b.position() ? b.object().position().ordinal() : Position.values().length;
      l[Head.RELATION.ordinal()][r] =
          c.relation() != null ? c.relation().ordinal() : Relation.values().length;
      l[Head.BACKGROUND.ordinal()][r] =
          c.background() != null ? c.background().ordinal() : Background.values().length;
    }
    return l;
  }
}
