package org.perfusionjobs.engine.personalization.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.LinearDelta;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.nn.Scalars;
import org.perfusionjobs.engine.personalization.BaselineConfig;
import org.perfusionjobs.engine.personalization.BaselineMethod;
import org.perfusionjobs.engine.personalization.TrainableWeights;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;

/**
 * LoRA (Hu et al. 2021) as diffusers' LoRA training scripts apply it to SD: on {@code to_q}, {@code
 * to_k}, {@code to_v} and {@code to_out.0} of every UNet attention layer (self and cross), a rank-r
 * term {@code (alpha / r) x A' B'} with
 *
 * <ul>
 *   <li>A = down (r, in) ~ N(0, (1/r)^2), seeded (peft's and diffusers' "gaussian" init: std 1/r);
 *   <li>B = up (out, r) = 0, so training starts from the base model exactly and the first gradient
 *       reaches B only (A's gradient is B' times something, i.e. zero at step 1);
 *   <li>alpha = r, i.e. the term enters training at scale 1 (diffusers' default).
 * </ul>
 *
 * At generation the term is multiplied by the concept's scale ({@code --scale}, default 1). The
 * concept word is used as the base tokenizer splits it (the paper's rare identifier); no embedding
 * is learned.
 */
public final class Lora implements BaselineMethod {
  public static final String NAME = "lora";

  /** The projections of every attention layer that get a low-rank term. */
  public static final List<String> PROJECTIONS = List.of("to_q", "to_k", "to_v", "to_out.0");

  private static final long SEED_SALT = 0x4C6F5241L; // "LoRA"

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public boolean learnsEmbedding() {
    return false;
  }

  @Override
  public boolean usesRank() {
    return true;
  }

  /**
   * diffusers' LoRA scripts use 1e-4 (text-to-image) to 5e-4 (DreamBooth-LoRA) for SD; 1e-4 at our
   * 400 steps x 16 images hardly moves the project's small model, so we take the upper end.
   */
  @Override
  public float defaultLearningRate() {
    return 5e-4f;
  }

  /**
   * The UNet Linear paths LoRA edits: the four projections of every attention layer, in model
   * order.
   */
  public static List<String> targets(StableDiffusionPipeline sd) {
    List<String> out = new ArrayList<>();
    sd.unet()
        .visit(
            (path, module) -> {
              if (module instanceof Attention) {
                for (String p : PROJECTIONS) {
                  out.add(path + "." + p);
                }
              }
            });
    return out;
  }

  @Override
  public TrainableWeights init(
      StableDiffusionPipeline sd, BaselineConfig cfg, float[] initialEmbedding, NDManager m) {
    TrainableWeights w = new TrainableWeights(null);
    Map<String, Linear> linears = new LinkedHashMap<>();
    sd.unet()
        .visit(
            (path, module) -> {
              if (module instanceof Linear l) {
                linears.put(path, l);
              }
            });
    NoiseGenerator rnd = new NoiseGenerator(cfg.shared().seed() ^ SEED_SALT);
    int r = cfg.rank();
    float std = 1f / r;
    for (String path : targets(sd)) {
      Linear l = linears.get(path);
      float[] a = rnd.nextGaussians(r * l.inFeatures);
      for (int i = 0; i < a.length; i++) {
        a[i] *= std;
      }
      NDArray down = m.create(a, new Shape(r, l.inFeatures));
      NDArray up = m.zeros(new Shape(l.outFeatures, r));
      w.addLora(path, Parameter.of(path + ".lora_down", down), Parameter.of(path + ".lora_up", up));
    }
    return w;
  }

  /**
   * The low-rank term of one Linear: {@code x -> scale * (x A') B'}, with A = down (r, in) and B =
   * up (out, r), as two matrix products through the rank (never the (out, in) product). Safe under
   * autograd: a scale other than 1 is a libtorch-owned constant ({@link Scalars#mul}); DJL's {@code
   * mul(Number)} would leave the backward pass reading a Java buffer that the garbage collector may
   * already have freed, which is what made LoRA training go to NaN after a few steps, at a step
   * that depended on GC timing.
   */
  public static LinearDelta delta(NDArray down, NDArray up, float scale) {
    if (!Float.isFinite(scale)) {
      throw new IllegalArgumentException("LoRA scale must be finite, got " + scale);
    }
    return x -> {
      NDArray low = ai.djl.nn.core.Linear.linear(x, down, null).singletonOrThrow(); // (..., r)
      NDArray out = ai.djl.nn.core.Linear.linear(low, up, null).singletonOrThrow(); // (..., out)
      return scale == 1f ? out : Scalars.mul(out, scale);
    };
  }
}
