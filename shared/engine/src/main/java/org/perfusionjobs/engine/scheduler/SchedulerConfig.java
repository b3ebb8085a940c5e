package org.perfusionjobs.engine.scheduler;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.ModelLoadException;

/**
 * A diffusers {@code scheduler/scheduler_config.json}, whatever class wrote it (DDIM, PNDM, LMS,
 * Euler, DPM-Solver...). Only the keys that define the noise schedule and the timestep grid are
 * read; the sampler itself is chosen separately ({@link SamplerKind}) and keeps its own algorithm
 * settings, as {@code SomeScheduler.from_config(otherConfig)} does in diffusers.
 *
 * <p>Keys whose diffusers default depends on the scheduler class are nullable here and resolved by
 * the sampler: {@code timestep_spacing} (DDIM "leading", Euler-a and DPM-Solver "linspace"), {@code
 * set_alpha_to_one} and {@code clip_sample} (DDIM default true). A missing key of the rest takes
 * the default shared by all diffusers schedulers.
 */
public record SchedulerConfig(
    @JsonProperty("_class_name") String className,
    @JsonProperty("num_train_timesteps") Integer numTrainTimesteps,
    @JsonProperty("beta_start") Double betaStart,
    @JsonProperty("beta_end") Double betaEnd,
    @JsonProperty("beta_schedule") String betaSchedule,
    @JsonProperty("trained_betas") List<Double> trainedBetas,
    @JsonProperty("set_alpha_to_one") Boolean setAlphaToOne,
    @JsonProperty("steps_offset") Integer stepsOffset,
    @JsonProperty("prediction_type") String predictionType,
    @JsonProperty("clip_sample") Boolean clipSample,
    @JsonProperty("clip_sample_range") Double clipSampleRange,
    @JsonProperty("thresholding") Boolean thresholding,
    @JsonProperty("timestep_spacing") String timestepSpacing,
    @JsonProperty("rescale_betas_zero_snr") Boolean rescaleBetasZeroSnr) {

  public static final Set<String> BETA_SCHEDULES =
      Set.of("linear", "scaled_linear", "squaredcos_cap_v2");
  public static final Set<String> PREDICTION_TYPES = Set.of("epsilon", "v_prediction");

  public SchedulerConfig {
    numTrainTimesteps = numTrainTimesteps == null ? 1000 : numTrainTimesteps;
    betaStart = betaStart == null ? 0.0001 : betaStart;
    betaEnd = betaEnd == null ? 0.02 : betaEnd;
    betaSchedule = betaSchedule == null ? "linear" : betaSchedule;
    stepsOffset = stepsOffset == null ? 0 : stepsOffset;
    predictionType = predictionType == null ? "epsilon" : predictionType;
    clipSampleRange = clipSampleRange == null ? 1.0 : clipSampleRange;
    thresholding = thresholding != null && thresholding;
    rescaleBetasZeroSnr = rescaleBetasZeroSnr != null && rescaleBetasZeroSnr;
    trainedBetas = trainedBetas == null ? null : List.copyOf(trainedBetas);

    if (numTrainTimesteps < 2) {
      throw new IllegalArgumentException(
          "num_train_timesteps " + numTrainTimesteps + " must be at least 2");
    }
    if (trainedBetas != null) {
      if (trainedBetas.size() != numTrainTimesteps) {
        throw new IllegalArgumentException(
            "trained_betas has "
                + trainedBetas.size()
                + " values but num_train_timesteps is "
                + numTrainTimesteps);
      }
      for (int i = 0; i < trainedBetas.size(); i++) {
        double b = trainedBetas.get(i);
        if (!(b > 0 && b < 1)) {
          throw new IllegalArgumentException(
              "trained_betas[" + i + "] = " + b + " is not in (0, 1)");
        }
      }
    } else {
      if (!BETA_SCHEDULES.contains(betaSchedule)) {
        throw new IllegalArgumentException(
            "beta_schedule '"
                + betaSchedule
                + "' is not supported; valid: "
                + String.join(", ", BETA_SCHEDULES.stream().sorted().toList()));
      }
      if (!betaSchedule.equals("squaredcos_cap_v2")
          && !(betaStart > 0 && betaStart < betaEnd && betaEnd < 1)) {
        throw new IllegalArgumentException(
            "beta_start "
                + betaStart
                + " and beta_end "
                + betaEnd
                + " must satisfy 0 < beta_start < beta_end < 1");
      }
    }
    if (stepsOffset < 0 || stepsOffset >= numTrainTimesteps) {
      throw new IllegalArgumentException(
          "steps_offset "
              + stepsOffset
              + " must be in [0, num_train_timesteps "
              + numTrainTimesteps
              + ")");
    }
    if (!PREDICTION_TYPES.contains(predictionType)) {
      throw new IllegalArgumentException(
          "prediction_type '"
              + predictionType
              + "' is not supported; valid: "
              + String.join(", ", PREDICTION_TYPES.stream().sorted().toList()));
    }
    if (!(clipSampleRange > 0)) {
      throw new IllegalArgumentException(
          "clip_sample_range " + clipSampleRange + " must be positive");
    }
    if (thresholding) {
      throw new IllegalArgumentException(
          "thresholding true is not supported (dynamic thresholding is for pixel-space"
              + " models, never set for Stable Diffusion)");
    }
    if (rescaleBetasZeroSnr) {
      throw new IllegalArgumentException("rescale_betas_zero_snr true is not supported");
    }
    if (timestepSpacing != null) {
      TimestepSpacing.fromName(timestepSpacing);
    }
  }

  /** Reads {@code scheduler_config.json} (or any file of that form). */
  public static SchedulerConfig load(Path file) throws ModelLoadException {
    return Configs.read(file, SchedulerConfig.class);
  }

  /**
   * The Stable Diffusion v1.x noise schedule (DDIM class defaults otherwise), for tests and tools.
   */
  public static SchedulerConfig stableDiffusionV1() {
    return new SchedulerConfig(
        "DDIMScheduler",
        1000,
        0.00085,
        0.012,
        "scaled_linear",
        null,
        false,
        1,
        "epsilon",
        false,
        1.0,
        false,
        "leading",
        false);
  }

  /** A copy with another timestep spacing (null: the sampler's own default). */
  public SchedulerConfig withTimestepSpacing(String spacing) {
    return new SchedulerConfig(
        className,
        numTrainTimesteps,
        betaStart,
        betaEnd,
        betaSchedule,
        trainedBetas,
        setAlphaToOne,
        stepsOffset,
        predictionType,
        clipSample,
        clipSampleRange,
        thresholding,
        spacing,
        rescaleBetasZeroSnr);
  }
}
