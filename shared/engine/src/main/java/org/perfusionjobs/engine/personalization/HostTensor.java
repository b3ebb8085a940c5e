package org.perfusionjobs.engine.personalization;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** A learned fp32 tensor kept on the host, with its shape (a concept file's content). */
public record HostTensor(float[] data, long[] shape) {

  public HostTensor {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    if (n != data.length) {
      throw new IllegalArgumentException(
          "tensor of shape "
              + java.util.Arrays.toString(shape)
              + " needs "
              + n
              + " values, got "
              + data.length);
    }
  }

  public static HostTensor of(NDArray a) {
    return new HostTensor(
        a.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray(),
        a.getShape().getShape());
  }

  public NDArray toArray(NDManager m) {
    return m.create(data, new Shape(shape));
  }
}
