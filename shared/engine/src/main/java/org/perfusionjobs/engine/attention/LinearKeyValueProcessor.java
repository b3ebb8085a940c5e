package org.perfusionjobs.engine.attention;

import ai.djl.ndarray.NDArray;

/** The unedited projection: K = to_k(keyInput), V = to_v(valueInput). */
public final class LinearKeyValueProcessor implements AttentionProcessor {
  public static final LinearKeyValueProcessor INSTANCE = new LinearKeyValueProcessor();

  private LinearKeyValueProcessor() {}

  @Override
  public KeyValue keyValue(Attention attn, NDArray keyInput, NDArray valueInput) {
    return new KeyValue(attn.toK.forward(keyInput), attn.toV.forward(valueInput));
  }
}
