package org.perfusionjobs.contracts;

/**
 * Compute budgets for one base model, checked by the gateway (before a job is queued) and again by
 * the worker (which knows its model): a request over budget fails with an error naming the field.
 *
 * @param maxJobPixels most of width x height x imageCount in one generate request
 * @param maxGenerateSteps most denoising steps in one generate request
 * @param maxTrainWork most of steps x batchSize x gradientAccumulation in one train request
 * @param maxTrainImages most images (and as many masks) in one train request
 * @param maxImagePixels most pixels (width x height) of one decoded training image or mask
 */
public record Budgets(
    long maxJobPixels,
    int maxGenerateSteps,
    long maxTrainWork,
    int maxTrainImages,
    long maxImagePixels) {
  /**
   * Images of the model's own size a generate request may ask for (8 = the schema's imageCount
   * maximum).
   */
  public static final int NATIVE_IMAGES = 8;

  public static final int DEFAULT_GENERATE_STEPS = 100;

  /** 400 steps x batch 4 x accumulation 4 (the defaults) fit; 5000 x 16 x 16 does not. */
  public static final long DEFAULT_TRAIN_WORK = 8_000;

  public static final int DEFAULT_TRAIN_IMAGES = 16;
  public static final long DEFAULT_IMAGE_PIXELS = 4L * 1024 * 1024;

  public Budgets {
    if (maxJobPixels < 1
        || maxGenerateSteps < 1
        || maxTrainWork < 1
        || maxTrainImages < 1
        || maxImagePixels < 1) {
      throw new IllegalArgumentException(
          "budgets must all be at least 1, got "
              + maxJobPixels
              + ", "
              + maxGenerateSteps
              + ", "
              + maxTrainWork
              + ", "
              + maxTrainImages
              + ", "
              + maxImagePixels);
    }
  }

  /**
   * The defaults for a model whose own image size is {@code side} x {@code side}: eight such images
   * per job.
   */
  public static Budgets forModelSize(int side) {
    return new Budgets(
        (long) NATIVE_IMAGES * side * side,
        DEFAULT_GENERATE_STEPS,
        DEFAULT_TRAIN_WORK,
        DEFAULT_TRAIN_IMAGES,
        DEFAULT_IMAGE_PIXELS);
  }

  /** The first budget a generate request breaks, or null; width/height 0 mean {@code modelSide}. */
  public FieldError check(GenerateRequestV1 r, int modelSide) {
    if (r.steps() > maxGenerateSteps) {
      return new FieldError(
          "/steps",
          r.steps()
              + " steps is over this model's budget of "
              + maxGenerateSteps
              + "; ask for fewer steps");
    }
    long w = r.width() == 0 ? modelSide : r.width();
    long h = r.height() == 0 ? modelSide : r.height();
    if (w * h > maxJobPixels) {
      String field = r.width() >= r.height() ? "/width" : "/height";
      return new FieldError(
          field,
          "width x height = "
              + w
              + " x "
              + h
              + " = "
              + (w * h)
              + " pixels is over this model's budget of "
              + maxJobPixels
              + " pixels per job; ask for a smaller image");
    }
    long total = w * h * r.imageCount();
    if (total > maxJobPixels) {
      return new FieldError(
          "/imageCount",
          "width x height x imageCount = "
              + w
              + " x "
              + h
              + " x "
              + r.imageCount()
              + " = "
              + total
              + " pixels is over this model's budget of "
              + maxJobPixels
              + " pixels per job; ask for fewer or smaller images");
    }
    return null;
  }

  /** The first budget a train request breaks, or null. */
  public FieldError check(TrainRequest r) {
    if (r.images().size() > maxTrainImages) {
      return new FieldError(
          "/images",
          r.images().size()
              + " images is over the budget of "
              + maxTrainImages
              + "; send fewer images");
    }
    long work = (long) r.steps() * r.options().batchSize() * r.options().gradientAccumulation();
    if (work > maxTrainWork) {
      return new FieldError(
          "/steps",
          "steps x batchSize x gradientAccumulation = "
              + r.steps()
              + " x "
              + r.options().batchSize()
              + " x "
              + r.options().gradientAccumulation()
              + " = "
              + work
              + " is over the budget of "
              + maxTrainWork
              + "; lower one of them");
    }
    return null;
  }
}
