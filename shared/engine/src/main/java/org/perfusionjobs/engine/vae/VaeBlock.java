package org.perfusionjobs.engine.vae;

import ai.djl.ndarray.NDArray;
import org.perfusionjobs.engine.blocks.Downsample2D;
import org.perfusionjobs.engine.blocks.ResnetBlock2D;
import org.perfusionjobs.engine.blocks.Upsample2D;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * DownVaeBlock2D (resnets, then a padding-0 strided conv) or UpDecoderBlock2D (resnets, then
 * nearest x2 and a conv): the two have the same shape of weights, so one class serves both, named
 * by the checkpoint's {@code downsamplers} / {@code upsamplers}.
 */
public final class VaeBlock extends Module {
  public final ModuleList<ResnetBlock2D> resnets;
  public final ModuleList<Downsample2D> downsamplers; // empty unless a downsampling encoder block
  public final ModuleList<Upsample2D> upsamplers; // empty unless an upsampling decoder block

  private VaeBlock(int in, int out, int layers, int groups, boolean down, boolean up) {
    this.resnets = child("resnets", new ModuleList<>());
    for (int i = 0; i < layers; i++) {
      resnets.add(new ResnetBlock2D(i == 0 ? in : out, out, 0, groups, 1e-6f));
    }
    this.downsamplers = down ? child("downsamplers", new ModuleList<>()) : new ModuleList<>();
    if (down) {
      downsamplers.add(new Downsample2D(out, out, 0));
    }
    this.upsamplers = up ? child("upsamplers", new ModuleList<>()) : new ModuleList<>();
    if (up) {
      upsamplers.add(new Upsample2D(out, out));
    }
  }

  static VaeBlock down(int in, int out, int layers, int groups, boolean downsample) {
    return new VaeBlock(in, out, layers, groups, downsample, false);
  }

  static VaeBlock up(int in, int out, int layers, int groups, boolean upsample) {
    return new VaeBlock(in, out, layers, groups, false, upsample);
  }

  /** Releases its own intermediates as it goes; the caller's x is left alone. */
  NDArray forward(NDArray x) {
    NDArray input = x;
    for (ResnetBlock2D r : resnets) {
      x = next(input, x, r.forward(x, null));
    }
    if (!downsamplers.isEmpty()) {
      x = next(input, x, downsamplers.get(0).forward(x));
    }
    if (!upsamplers.isEmpty()) {
      x = next(input, x, upsamplers.get(0).forward(x));
    }
    return x;
  }

  private static NDArray next(NDArray input, NDArray previous, NDArray result) {
    if (previous != input) {
      BlockScope.release(previous);
    }
    return result;
  }
}
