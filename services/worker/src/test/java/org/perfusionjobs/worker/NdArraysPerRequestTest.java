package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.lang.reflect.Field;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;
import org.perfusionjobs.testdata.TestData;

/**
 * DJL arrays live in NDManagers, scoped per step and request (issue 19: flat RSS on long runs):
 * after warm-up, a series of generation requests through the worker's {@link ModelRunner} leaves
 * exactly as many arrays attached to DJL's managers as before. The count is DJL's own bookkeeping
 * (every manager's resource table, walked from the engine's root manager and from the pipeline's),
 * not anything the worker or the engine reports.
 */
class NdArraysPerRequestTest {
  @Test
  void generationRequestsLeaveNoArrayBehind() throws Exception {
    StableDiffusionPipeline sd =
        StableDiffusionPipeline.load(TestData.sdTinyRef(), EngineOptions.cpu());
    try (ModelRunner runner = new ModelRunner(sd, "nd-count")) {
      for (int i = 0; i < 2; i++) { // warm-up: anything created once and kept
        generate(runner, i);
      }
      long before = liveArrays(sd);
      assertTrue(before > 0, "the model's weights are arrays too");
      // The count sees an array left behind.
      try (NDArray left = sd.manager().zeros(new ai.djl.ndarray.types.Shape(2))) {
        assertEquals(before + 1, liveArrays(sd));
      }
      for (int i = 2; i < 14; i++) {
        generate(runner, i);
      }
      assertEquals(before, liveArrays(sd), "arrays attached to DJL's managers after 12 requests");
    }
  }

  /** Varied: steps 1-2, two samplers, one or two images, two sizes, prompts all different. */
  private static void generate(ModelRunner runner, int i) throws Exception {
    GenerateRequest r =
        GenerateRequest.builder("a toy car number " + i)
            .optNegativePrompt(i % 3 == 0 ? "blurry" : "")
            .optSteps(1 + i % 2)
            .optGuidanceScale(i % 2 == 0 ? 5f : 1f)
            .optSeed(i)
            .optSize(32, i % 4 == 1 ? 40 : 32)
            .optBatchSize(1 + i % 2)
            .optSampler(i % 2 == 0 ? SamplerKind.DDIM : SamplerKind.EULER_ANCESTRAL)
            .build();
    assertEquals(1 + i % 2, runner.generate(r).get(2, TimeUnit.MINUTES).images().size());
  }

  static long liveArrays(StableDiffusionPipeline sd) throws ReflectiveOperationException {
    Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    long n = 0;
    try (NDManager probe = NDManager.newBaseManager()) {
      for (NDManager root : List.of(probe.getParentManager(), sd.manager())) {
        n += count(root, seen);
      }
    }
    return n;
  }

  private static long count(NDManager m, Set<Object> seen) throws ReflectiveOperationException {
    if (!seen.add(m) || !(m instanceof BaseNDManager)) {
      return 0;
    }
    long n = 0;
    for (Object r : table(m, "resources").values()) {
      if (r instanceof NDArray a && seen.add(a)) {
        n++;
      } else if (r instanceof NDManager child) {
        n += count(child, seen);
      }
    }
    return n + table(m, "tempResources").size();
  }

  private static Map<?, ?> table(NDManager m, String name) throws ReflectiveOperationException {
    Field f = BaseNDManager.class.getDeclaredField(name);
    f.setAccessible(true);
    return (Map<?, ?>) f.get(m);
  }
}
