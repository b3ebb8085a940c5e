package org.perfusionjobs.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import java.util.List;
import java.util.function.Function;
import org.perfusionjobs.engine.nn.Scalars;

/**
 * A training step's micro-batches (gradient accumulation) run through the model several at a time.
 * Each keeps its own draws and its own masked mean in the loss, so the step's gradient is that of
 * running them one by one, within fp32 rounding; one pass saves the per-op cost that dominates
 * small latents (a Perfusion step of world-v2's 4 x 4 micro-batches at 16x16: about 0.55 -> 0.39
 * s). A pass holds at most {@link #FUSED_LATENT_CELLS} latent cells: SD at 512 px (64x64 = 4,096
 * per image) keeps one micro-batch per pass, so its peak memory is unchanged.
 */
public final class MicroBatches {
  private MicroBatches() {}

  /** Latent cells (images x height x width) one training pass may hold. */
  public static final long FUSED_LATENT_CELLS = 4096;

  /** A drawn micro-batch: clean latents, noise, timesteps, token ids and the loss mask. */
  public record Batch(NDArray x0, NDArray noise, long[] timesteps, NDArray ids, NDArray mask) {
    /** The rows of {@code parts} in order, as one batch. */
    public static Batch concat(List<Batch> parts) {
      if (parts.size() == 1) {
        return parts.get(0);
      }
      int rows = 0;
      for (Batch b : parts) {
        rows += b.timesteps.length;
      }
      long[] t = new long[rows];
      int at = 0;
      for (Batch b : parts) {
        System.arraycopy(b.timesteps, 0, t, at, b.timesteps.length);
        at += b.timesteps.length;
      }
      return new Batch(
          cat(parts, Batch::x0),
          cat(parts, Batch::noise),
          t,
          cat(parts, Batch::ids),
          cat(parts, Batch::mask));
    }

    private static NDArray cat(List<Batch> parts, Function<Batch, NDArray> field) {
      return NDArrays.concat(new NDList(parts.stream().map(field).toArray(NDArray[]::new)));
    }
  }

  /**
   * How many of a step's {@code parts} micro-batches of {@code batch} images with {@code
   * latentCells} cells each go through the model in one pass: at most {@code parts}, at least 1.
   */
  public static int perPass(int batch, int parts, long latentCells, long maxCells) {
    return (int) Math.max(1, Math.min(parts, maxCells / (latentCells * batch)));
  }

  /**
   * Each micro-batch's masked mean squared error, sum(mask (pred - target)^2) / (sum(mask) C), for
   * {@code groups} equal micro-batches stacked along the batch axis: (groups).
   */
  public static NDArray maskedMeans(NDArray pred, NDArray target, NDArray mask, int groups) {
    NDArray err = pred.sub(target).square().mul(mask).reshape(groups, -1);
    // The channel count as a libtorch tensor (Scalars): DJL's div(Number) would back it with a
    // Java buffer that is freed while autograd still holds it for the backward pass.
    return Scalars.mul(
        err.sum(new int[] {1}).div(mask.reshape(groups, -1).sum(new int[] {1})),
        1f / pred.getShape().get(1));
  }
}
