package org.perfusionjobs.engine.perfusion;

import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.attention.Attention;

/** Checks that a concept fits a base model and its Cinv; the message names the mismatch. */
public final class ConceptCompatibility {
  private ConceptCompatibility() {}

  /**
   * @throws IncompatibleConceptException naming the first mismatch found
   */
  public static void check(
      Concept c,
      String baseModelId,
      Covariance cov,
      int textWidth,
      List<Attention> crossAttentions) {
    String who = "concept '" + c.placeholder() + "'";
    if (!c.cinvHash().equals(cov.hash())) {
      throw new IncompatibleConceptException(
          who
              + " was trained against Cinv "
              + shortHash(c.cinvHash())
              + " but this model's Cinv is "
              + shortHash(cov.hash())
              + ": retrain it against this covariance");
    }
    if (!c.baseModelId().equals(baseModelId)) {
      throw new IncompatibleConceptException(
          who + " was trained on base model " + c.baseModelId() + ", not " + baseModelId);
    }
    if (c.embedding().length != textWidth) {
      throw new IncompatibleConceptException(
          who
              + " has a "
              + c.embedding().length
              + "-wide embedding; the text encoder is "
              + textWidth
              + " wide");
    }
    Map<String, float[]> v = c.valueTargets();
    if (v.size() != crossAttentions.size()) {
      throw new IncompatibleConceptException(
          who
              + " has targets for "
              + v.size()
              + " cross-attention layers; the model has "
              + crossAttentions.size());
    }
    for (Attention a : crossAttentions) {
      float[] t = v.get(a.path());
      if (t == null) {
        throw new IncompatibleConceptException(who + " has no targets for layer " + a.path());
      }
      if (t.length != a.toV.outFeatures) {
        throw new IncompatibleConceptException(
            who
                + ": layer "
                + a.path()
                + " target has width "
                + t.length
                + ", the layer "
                + a.toV.outFeatures);
      }
    }
  }

  private static String shortHash(String h) {
    return h.length() > 12 ? h.substring(0, 12) : h;
  }

  /** A concept that cannot be used with this model. */
  public static final class IncompatibleConceptException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public IncompatibleConceptException(String message) {
      super(message);
    }
  }
}
