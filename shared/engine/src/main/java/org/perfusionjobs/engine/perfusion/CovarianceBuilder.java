package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/** Computes a base model's Cinv from a caption corpus (one caption per line). */
public final class CovarianceBuilder {
  private static final int BATCH = 32;

  private CovarianceBuilder() {}

  /** Non-empty, trimmed lines of a caption file; '#' starts a comment line. */
  public static List<String> readCaptions(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException("caption file " + file + " does not exist");
    }
    List<String> captions =
        Files.readAllLines(file, StandardCharsets.UTF_8).stream()
            .map(String::strip)
            .filter(l -> !l.isEmpty() && !l.startsWith("#"))
            .toList();
    if (captions.isEmpty()) {
      throw new IOException("caption file " + file + " has no captions");
    }
    return captions;
  }

  /**
   * @param onBatch called with the number of captions done so far
   */
  public static Covariance compute(
      StableDiffusionPipeline sd,
      List<String> captions,
      boolean includePadding,
      String source,
      IntConsumer onBatch) {
    int d = sd.textEncoder().config().hiddenSize();
    int eos = sd.tokenizer().eosId();
    try (CovarianceEstimator est = new CovarianceEstimator(d, includePadding);
        NDManager m = sd.manager().newSubManager()) {
      for (int start = 0; start < captions.size(); start += BATCH) {
        List<String> batch = captions.subList(start, Math.min(captions.size(), start + BATCH));
        try (NDScope s = new NDScope()) {
          s.suppressNotUsedWarning();
          NDArray ids = sd.tokenizer().encode(batch, m);
          long[] flat = ids.toLongArray();
          int t = (int) ids.getShape().get(1);
          int[] lengths = new int[batch.size()];
          for (int b = 0; b < batch.size(); b++) {
            int len = t;
            for (int i = 1; i < t; i++) {
              if (flat[b * t + i] == eos) {
                len = i + 1;
                break;
              }
            }
            lengths[b] = len;
          }
          est.add(sd.textEncoder().forward(ids), lengths);
        }
        onBatch.accept(Math.min(captions.size(), start + BATCH));
      }
      return est.finish(Map.of("source", source, "base_model", sd.baseModelId()));
    }
  }
}
