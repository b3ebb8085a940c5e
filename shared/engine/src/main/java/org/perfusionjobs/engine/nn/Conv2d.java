package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** 2-D convolution over NCHW input with square kernel, stride and symmetric zero padding. */
public final class Conv2d extends Module {
  public final int inChannels;
  public final int outChannels;
  public final int kernel;
  public final int stride;
  public final int padding;
  public final Parameter weight; // (out, in, k, k)
  public final Parameter bias; // (out) or null

  public Conv2d(
      int inChannels, int outChannels, int kernel, int stride, int padding, boolean bias) {
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernel = kernel;
    this.stride = stride;
    this.padding = padding;
    this.weight = parameter("weight", new Shape(outChannels, inChannels, kernel, kernel));
    this.bias = bias ? parameter("bias", new Shape(outChannels)) : null;
  }

  public Conv2d(int inChannels, int outChannels, int kernel, int stride, int padding) {
    this(inChannels, outChannels, kernel, stride, padding, true);
  }

  public NDArray forward(NDArray x) {
    NDArray y =
        ai.djl.nn.convolutional.Conv2d.conv2d(
                x,
                weight.get(),
                bias == null ? null : bias.get(),
                new Shape(stride, stride),
                new Shape(padding, padding),
                new Shape(1, 1),
                1)
            .singletonOrThrow();
    if (FlopCounter.enabled()) {
      FlopCounter.addMultiplyAdds(y.size() * inChannels * kernel * kernel);
    }
    return y;
  }
}
