package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;
import org.perfusionjobs.engine.pipeline.EngineOptions;

/** Turns a stored concept and its run-time knobs into the arrays the processor applies. */
public final class ConceptEdits {
  private ConceptEdits() {}

  public static ConceptEdit toEdit(ConceptUse use, NDManager m, EngineOptions options) {
    Concept c = use.concept();
    double[] iStar = new double[c.iStar().length];
    for (int i = 0; i < iStar.length; i++) {
      iStar[i] = c.iStar()[i];
    }
    return new ConceptEdit(
        iStar,
        arrays(c.keyTargets(), m, options),
        arrays(c.valueTargets(), m, options),
        use.effectiveBeta(),
        use.effectiveTau(),
        c.ablation());
  }

  private static Map<String, NDArray> arrays(
      Map<String, float[]> host, NDManager m, EngineOptions options) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    host.forEach(
        (p, v) ->
            out.put(
                p, m.create(v).toType(options.dtype(), false).toDevice(options.device(), false)));
    return out;
  }
}
