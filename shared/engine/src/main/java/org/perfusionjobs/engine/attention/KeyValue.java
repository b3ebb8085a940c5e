package org.perfusionjobs.engine.attention;

import ai.djl.ndarray.NDArray;

/** Projected keys and values of one attention layer, each (B, T, C). */
public record KeyValue(NDArray key, NDArray value) {}
