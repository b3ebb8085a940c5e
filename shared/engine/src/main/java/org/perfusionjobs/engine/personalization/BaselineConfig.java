package org.perfusionjobs.engine.personalization;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.perfusionjobs.engine.perfusion.TrainingConfig;

/**
 * A baseline run: Perfusion's {@link TrainingConfig} for everything the methods share (word,
 * superclass, steps, batch, accumulation, flip, seed, templates, weight decay), and what only the
 * baselines have.
 *
 * @param learningRate of the method's weights (LoRA factors, K/V projections, the UNet)
 * @param embeddingLearningRate of the concept word's embedding, where the method learns one
 * @param rank of the LoRA factors
 * @param classImages superclass images the base model draws for prior preservation (DreamBooth)
 * @param classImageSteps denoising steps for each of them (DDIM, guidance 7.5)
 * @param priorLossWeight weight of the prior-preservation loss
 */
public record BaselineConfig(
    TrainingConfig shared,
    float learningRate,
    float embeddingLearningRate,
    int rank,
    int classImages,
    int classImageSteps,
    float priorLossWeight) {

  public BaselineConfig {
    Objects.requireNonNull(shared, "shared");
    if (!(learningRate > 0 && learningRate < 10)
        || !(embeddingLearningRate > 0 && embeddingLearningRate < 10)) {
      throw new IllegalArgumentException(
          "learning rates must be in (0, 10), got " + learningRate + " / " + embeddingLearningRate);
    }
    if (rank < 1 || rank > 1024) {
      throw new IllegalArgumentException("rank must be in 1..1024, got " + rank);
    }
    if (classImages < 1 || classImageSteps < 1) {
      throw new IllegalArgumentException(
          "class images and their steps must be >= 1, got "
              + classImages
              + " / "
              + classImageSteps);
    }
    if (!(priorLossWeight >= 0)) {
      throw new IllegalArgumentException("prior loss weight must be >= 0, got " + priorLossWeight);
    }
  }

  public BaselineConfig withShared(TrainingConfig s) {
    return new BaselineConfig(
        s,
        learningRate,
        embeddingLearningRate,
        rank,
        classImages,
        classImageSteps,
        priorLossWeight);
  }

  public BaselineConfig withLearningRates(float weights, float embedding) {
    return new BaselineConfig(
        shared, weights, embedding, rank, classImages, classImageSteps, priorLossWeight);
  }

  public BaselineConfig withRank(int r) {
    return new BaselineConfig(
        shared,
        learningRate,
        embeddingLearningRate,
        r,
        classImages,
        classImageSteps,
        priorLossWeight);
  }

  public BaselineConfig withClassImages(int n, int steps) {
    return new BaselineConfig(
        shared, learningRate, embeddingLearningRate, rank, n, steps, priorLossWeight);
  }

  /** What a concept file records of its training. */
  public Map<String, String> describe(BaselineMethod method) {
    Map<String, String> m = new LinkedHashMap<>(shared.describe());
    m.keySet()
        .removeIf(k -> k.startsWith("lr_") || k.startsWith("train_") || k.equals("ema_decay"));
    if (method.trainsWeights()) {
      m.put("lr", Float.toString(learningRate));
    }
    if (method.learnsEmbedding()) {
      m.put("lr_embedding", Float.toString(embeddingLearningRate));
    }
    if (method.usesRank()) {
      m.put("rank", Integer.toString(rank));
      m.put("alpha", Integer.toString(rank)); // the term enters at alpha / rank = 1 times --scale
    }
    if (method.priorPreservation()) {
      m.put("class_images", Integer.toString(classImages));
      m.put("class_image_steps", Integer.toString(classImageSteps));
      m.put("prior_loss_weight", Float.toString(priorLossWeight));
    }
    return m;
  }
}
