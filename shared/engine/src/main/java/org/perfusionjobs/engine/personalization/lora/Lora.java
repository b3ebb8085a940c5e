package org.perfusionjobs.engine.personalization.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.personalization.BaselineConfig;
import org.perfusionjobs.engine.personalization.BaselineMethod;
import org.perfusionjobs.engine.personalization.TrainableWeights;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;

/**
 * LoRA (Hu et al. 2021, as diffusers' DreamBooth-LoRA script applies it to SD): on {@code to_q},
 * {@code to_k}, {@code to_v} and {@code to_out.0} of every UNet attention layer (self and cross),
 * a rank-r term {@code x A' B'} with A (r, in) ~ N(0, 1/in) (seeded) and B (out, r) = 0, so that
 * training starts from the base model exactly; alpha = r, i.e. scale 1 in training. At generation
 * the term is multiplied by the concept's scale ({@code --concept FILE:scale}). The concept word
 * is used as the base tokenizer splits it (the paper's rare identifier); no embedding is learned.
 */
public final class Lora implements BaselineMethod {
  public static final String NAME = "lora";

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

  /** diffusers' DreamBooth-LoRA default. */
  @Override
  public float defaultLearningRate() {
    return 1e-4f;
  }

  /** The UNet Linear paths LoRA edits: the four projections of every attention layer. */
  public static List<String> targets(StableDiffusionPipeline sd) {
    List<String> out = new ArrayList<>();
    sd.unet().visit((path, module) -> {
      if (module instanceof Attention) {
        for (String p : List.of("to_q", "to_k", "to_v", "to_out.0")) {
          out.add(path + "." + p);
        }
      }
    });
    return out;
  }

  @Override
  public TrainableWeights init(StableDiffusionPipeline sd, BaselineConfig cfg, float[] initialEmbedding, NDManager m) {
    TrainableWeights w = new TrainableWeights(null);
    java.util.Map<String, Linear> linears = new java.util.HashMap<>();
    sd.unet().visit((path, module) -> {
      if (module instanceof Linear l) {
        linears.put(path, l);
      }
    });
    NoiseGenerator rnd = new NoiseGenerator(cfg.shared().seed() ^ 0x4C6F5241L);
    int r = cfg.rank();
    for (String path : targets(sd)) {
      Linear l = linears.get(path);
      NDArray down = rnd.normal(new Shape(r, l.inFeatures), m).mul((float) (1.0 / Math.sqrt(l.inFeatures)));
      NDArray up = m.zeros(new Shape(l.outFeatures, r));
      w.addLora(path, Parameter.of(path + ".lora_down", down), Parameter.of(path + ".lora_up", up));
    }
    return w;
  }
}
