package org.perfusionjobs.engine.unet;

/** Down block with a transformer after each resnet. */
public final class CrossAttnDownBlock2D extends UNetDownBlock {
  CrossAttnDownBlock2D(UNet2DConditionConfig cfg, int in, int out, int heads, boolean downsample) {
    super(cfg, in, out, heads, true, downsample);
  }
}
