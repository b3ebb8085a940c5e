package org.perfusionjobs.engine.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.perfusionjobs.engine.nn.Activations;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Module;

/**
 * {@code time_proj} (sinusoids, no weights) and {@code time_embedding} (linear_1, SiLU, linear_2).
 * The sinusoids are computed in fp32 as diffusers does, whatever the model's precision.
 */
public final class TimestepEmbedding extends Module {
  public final int projDim;
  public final boolean flipSinToCos;
  public final int freqShift;
  public final Linear linear1; // (E, projDim)
  public final Linear linear2; // (E, E)

  TimestepEmbedding(int projDim, int embedDim, boolean flipSinToCos, int freqShift) {
    this.projDim = projDim;
    this.flipSinToCos = flipSinToCos;
    this.freqShift = freqShift;
    this.linear1 = child("linear_1", new Linear(projDim, embedDim, true));
    this.linear2 = child("linear_2", new Linear(embedDim, embedDim, true));
  }

  /**
   * Sinusoidal features of the timesteps: with half = projDim/2 and f_i = exp(-ln(10000) i / (half
   * - freqShift)), [cos(t f) | sin(t f)] when flipped (SD), else [sin | cos].
   *
   * @param t (B) timesteps, any numeric type
   * @return (B, projDim) fp32
   */
  public NDArray project(NDArray t) {
    int half = projDim / 2;
    NDManager m = t.getManager();
    NDArray exponent =
        m.arange(0, half, 1, DataType.FLOAT32)
            .mul((float) -Math.log(10000))
            .div((float) (half - freqShift));
    NDArray args =
        t.toType(DataType.FLOAT32, false).expandDims(1).mul(exponent.exp().expandDims(0));
    NDArray sin = args.sin();
    NDArray cos = args.cos();
    return flipSinToCos ? cos.concat(sin, 1) : sin.concat(cos, 1);
  }

  /** (B, projDim) features in the model dtype → (B, E). */
  public NDArray embed(NDArray features) {
    return linear2.forward(Activations.silu(linear1.forward(features)));
  }
}
