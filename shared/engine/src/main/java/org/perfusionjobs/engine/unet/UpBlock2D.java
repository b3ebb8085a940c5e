package org.perfusionjobs.engine.unet;

/** Up block of resnets only. */
public final class UpBlock2D extends UNetUpBlock {
  UpBlock2D(UNet2DConditionConfig cfg, int in, int out, int prevOut, boolean upsample) {
    super(cfg, in, out, prevOut, 1, false, upsample);
  }
}
