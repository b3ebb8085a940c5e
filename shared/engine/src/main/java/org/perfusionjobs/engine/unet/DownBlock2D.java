package org.perfusionjobs.engine.unet;

/** Down block of resnets only. */
public final class DownBlock2D extends UNetDownBlock {
  DownBlock2D(UNet2DConditionConfig cfg, int in, int out, boolean downsample) {
    super(cfg, in, out, 1, false, downsample);
  }
}
