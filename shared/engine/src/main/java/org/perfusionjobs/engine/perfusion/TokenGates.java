package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.pipeline.PromptBatch;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * Per token of a prompt (start, content, end, padding: {@link ClipTokenizer#maxLength()} in all):
 * its text, and for each concept s(e) and the gate (method page, section 2): which token encodings
 * each rank-1 edit acts on. For diagnosing a concept that leaks into the whole image or never
 * shows. {@code similarity[token][concept]}, {@code gates[token][concept]}.
 */
public record TokenGates(List<String> tokens, float[][] similarity, float[][] gates) {

  /** Only the prompt's own row is encoded (no unconditional one). */
  static TokenGates of(PerfusionConditioner conditioner, String prompt) {
    PerfusionModel model = conditioner.model();
    StableDiffusionPipeline sd = model.pipeline();
    try (NDManager m = sd.manager().newSubManager()) {
      Conditioning cond = conditioner.condition(sd, PromptBatch.single(prompt), m);
      PerfusionProcessor p = (PerfusionProcessor) cond.processor();
      float[] s = p.similarities(cond.valueStates()).toType(DataType.FLOAT32, false).toFloatArray();
      float[] g = p.gates(cond.valueStates()).toType(DataType.FLOAT32, false).toFloatArray();
      int n = conditioner.placeholders().size();
      int t = s.length / n;
      float[][] sim = new float[t][n];
      float[][] gates = new float[t][n];
      for (int i = 0; i < t; i++) {
        for (int j = 0; j < n; j++) {
          sim[i][j] = s[i * n + j];
          gates[i][j] = g[i * n + j];
        }
      }
      ClipTokenizer tok = model.tokenizerWith(conditioner.placeholders());
      List<String> tokens = new ArrayList<>();
      tokens.add("<start>");
      tokens.addAll(tok.tokens(prompt));
      tokens.add("<end>");
      while (tokens.size() < t) {
        tokens.add("<pad>");
      }
      return new TokenGates(
          tokens.subList(0, t), sim, gates); // a long prompt is truncated to t tokens
    }
  }
}
