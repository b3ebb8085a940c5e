package org.perfusionjobs.contracts;

import java.util.Map;

/**
 * Budgets set in configuration (null = the model's default, {@link Budgets#forModelSize}); read
 * from {@code PERFUSION_MAX_JOB_PIXELS}, {@code PERFUSION_MAX_GENERATE_STEPS}, {@code
 * PERFUSION_MAX_TRAIN_WORK}, {@code PERFUSION_MAX_TRAIN_IMAGES}, {@code PERFUSION_MAX_IMAGE_PIXELS}
 * (config/README.md).
 */
public record BudgetOverrides(
    Long maxJobPixels,
    Integer maxGenerateSteps,
    Long maxTrainWork,
    Integer maxTrainImages,
    Long maxImagePixels) {
  public static final BudgetOverrides NONE = new BudgetOverrides(null, null, null, null, null);

  public static BudgetOverrides from(Map<String, String> env) {
    return new BudgetOverrides(
        number(env, "PERFUSION_MAX_JOB_PIXELS"),
        intOrNull(number(env, "PERFUSION_MAX_GENERATE_STEPS")),
        number(env, "PERFUSION_MAX_TRAIN_WORK"),
        intOrNull(number(env, "PERFUSION_MAX_TRAIN_IMAGES")),
        number(env, "PERFUSION_MAX_IMAGE_PIXELS"));
  }

  /**
   * The budgets for a model of {@code side} x {@code side} pixels, with these overrides applied.
   */
  public Budgets resolve(int side) {
    Budgets d = Budgets.forModelSize(side);
    return new Budgets(
        maxJobPixels != null ? maxJobPixels : d.maxJobPixels(),
        maxGenerateSteps != null ? maxGenerateSteps : d.maxGenerateSteps(),
        maxTrainWork != null ? maxTrainWork : d.maxTrainWork(),
        maxTrainImages != null ? maxTrainImages : d.maxTrainImages(),
        maxImagePixels != null ? maxImagePixels : d.maxImagePixels());
  }

  private static Long number(Map<String, String> env, String key) {
    String v = env.get(key);
    if (v == null || v.isBlank()) {
      return null;
    }
    try {
      long n = Long.parseLong(v.strip());
      if (n < 1) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "setting " + key + " must be a whole number of at least 1, got '" + v + "'");
    }
  }

  private static Integer intOrNull(Long n) {
    return n == null ? null : (int) Math.min(Integer.MAX_VALUE, n);
  }
}
