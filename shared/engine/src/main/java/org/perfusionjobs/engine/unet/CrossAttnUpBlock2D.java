package org.perfusionjobs.engine.unet;

/** Up block with a transformer after each resnet. */
public final class CrossAttnUpBlock2D extends UNetUpBlock {
  CrossAttnUpBlock2D(
      UNet2DConditionConfig cfg, int in, int out, int prevOut, int heads, boolean upsample) {
    super(cfg, in, out, prevOut, heads, true, upsample);
  }
}
