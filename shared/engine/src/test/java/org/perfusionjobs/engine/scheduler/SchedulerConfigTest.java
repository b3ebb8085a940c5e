package org.perfusionjobs.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.io.ModelLoadException;

class SchedulerConfigTest {
  /** runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json: PNDM, no timestep_spacing. */
  private static final String SD15_PNDM =
      """
      {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
       "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
       "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null,
       "clip_sample": false}\
      """;

  /** An Euler config as community SD v1.x checkpoints ship it, with keys no sampler here reads. */
  private static final String EULER =
      """
      {"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
       "beta_start": 0.00085, "interpolation_type": "linear", "num_train_timesteps": 1000,
       "prediction_type": "epsilon", "steps_offset": 1, "timestep_spacing": "leading",
       "trained_betas": null, "use_karras_sigmas": false}\
      """;

  @TempDir Path dir;

  private SchedulerConfig write(String json) throws Exception {
    Path file = dir.resolve("scheduler_config.json");
    Files.writeString(file, json);
    return SchedulerConfig.load(file);
  }

  @Test
  void readsTheTinyDdimConfig() throws Exception {
    SchedulerConfig c = ReferenceData.tinyConfig();
    assertEquals("DDIMScheduler", c.className());
    assertEquals(1000, c.numTrainTimesteps());
    assertEquals(0.00085, c.betaStart());
    assertEquals(0.012, c.betaEnd());
    assertEquals("scaled_linear", c.betaSchedule());
    assertEquals(false, c.setAlphaToOne());
    assertEquals(1, c.stepsOffset());
    assertEquals("epsilon", c.predictionType());
    assertEquals(false, c.clipSample());
    assertEquals("leading", c.timestepSpacing());
    assertNull(c.trainedBetas());
  }

  @Test
  void readsSd15PndmConfigAndAppliesEachSamplersDefaults() throws Exception {
    SchedulerConfig c = write(SD15_PNDM);
    assertEquals("PNDMScheduler", c.className());
    assertNull(c.timestepSpacing());
    // same noise schedule as the tiny DDIM config
    assertArrayEquals(
        NoiseSchedule.of(ReferenceData.tinyConfig()).alphasCumprod(),
        NoiseSchedule.of(c).alphasCumprod());
    try (SamplerRun ddim = Samplers.create(SamplerKind.DDIM, c, 10, 0f);
        SamplerRun euler = Samplers.create(SamplerKind.EULER_ANCESTRAL, c, 10, 0f);
        SamplerRun dpm = Samplers.create(SamplerKind.DPMPP_2M, c, 10, 0f)) {
      assertArrayEquals(
          new long[] {901, 801, 701, 601, 501, 401, 301, 201, 101, 1},
          ddim.timesteps(),
          "DDIM: leading");
      assertArrayEquals(
          new long[] {999, 888, 777, 666, 555, 444, 333, 222, 111, 0},
          euler.timesteps(),
          "Euler-a: linspace");
      assertArrayEquals(
          new long[] {999, 899, 799, 699, 599, 500, 400, 300, 200, 100},
          dpm.timesteps(),
          "DPM-Solver: linspace on steps + 1 points");
    }
  }

  @Test
  void ignoresKeysOfOtherSchedulerClasses() throws Exception {
    SchedulerConfig c = write(EULER);
    assertEquals("leading", c.timestepSpacing());
    assertNull(c.setAlphaToOne(), "absent: DDIM's own default (true) applies");
    try (DdimSampler ddim = new DdimSampler(c, 10, 0f)) {
      assertEquals(1f, ddim.alphaCumprodPrev(9));
    }
  }

  @Test
  void rejectsUnsupportedValuesNamingThem() {
    assertMessage(SD15_PNDM.replace("scaled_linear", "sigmoid"), "sigmoid", "scaled_linear");
    assertMessage(EULER.replace("\"leading\"", "\"middle\""), "middle", "trailing");
    assertMessage(EULER.replace("\"epsilon\"", "\"sample\""), "sample", "v_prediction");
    assertMessage(
        SD15_PNDM.replace("\"beta_start\": 0.00085", "\"beta_start\": 0.5"), "0.5", "0.012");
    assertMessage(SD15_PNDM.replace("\"steps_offset\": 1", "\"steps_offset\": -1"), "-1");
    assertMessage(SD15_PNDM.replace("1000", "1"), "num_train_timesteps 1");
  }

  private void assertMessage(String json, String... parts) {
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> write(json));
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' missing from: " + e.getMessage());
    }
  }
}
