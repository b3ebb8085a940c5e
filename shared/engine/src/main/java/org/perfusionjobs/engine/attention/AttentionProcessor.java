package org.perfusionjobs.engine.attention;

import ai.djl.ndarray.NDArray;

/**
 * How an {@link Attention} layer turns its key and value inputs into K and V. This is the one
 * swappable call site: the plain projection is {@link LinearKeyValueProcessor}; the Perfusion gated
 * rank-1 edit is another implementation, set on {@code attn2} layers only.
 *
 * <p>Dimension legend: B batch, T key/value tokens, D input width, C inner width (heads * head).
 */
public interface AttentionProcessor {

  /**
   * @param attn the layer, for its weights ({@code to_k}, {@code to_v}) and its module path
   * @param keyInput (B, T, D) what the K path sees (for cross-attention: the text encoding, or the
   *     superclass-substituted encoding under global key-locking)
   * @param valueInput (B, T, D) what the V path sees
   * @return K and V, each (B, T, C)
   */
  KeyValue keyValue(Attention attn, NDArray keyInput, NDArray valueInput);
}
