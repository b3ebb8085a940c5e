package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import java.util.Map;
import java.util.Objects;

/**
 * One concept as the edit needs it at run time: its target input {@code i*} (D), and per
 * cross-attention layer (keyed by the layer's module path, e.g. {@code
 * down_blocks.0.attentions.0.transformer_blocks.0.attn2}) its K target (C) and V target (C), with
 * this run's beta and tau, and the ablation it was trained with (applied by the processor). During
 * training the V targets (and, without key-locking, the K targets) are the live, gradient-carrying
 * arrays.
 */
public record ConceptEdit(
    double[] iStar,
    Map<String, NDArray> keyTargets,
    Map<String, NDArray> valueTargets,
    float beta,
    float tau,
    PerfusionAblation ablation) {

  /** The paper's method (no ablation). */
  public ConceptEdit(
      double[] iStar,
      Map<String, NDArray> keyTargets,
      Map<String, NDArray> valueTargets,
      float beta,
      float tau) {
    this(iStar, keyTargets, valueTargets, beta, tau, PerfusionAblation.NONE);
  }

  public ConceptEdit {
    if (!(tau > 0)) {
      throw new IllegalArgumentException("tau must be > 0, got " + tau);
    }
    if (!Float.isFinite(beta)) {
      throw new IllegalArgumentException("beta must be finite, got " + beta);
    }
    Objects.requireNonNull(ablation, "ablation");
    if (!keyTargets.keySet().equals(valueTargets.keySet())) {
      throw new IllegalArgumentException("K targets and V targets cover different layers");
    }
  }
}
