package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Group normalisation of NCHW input (DJL has none). The per-group statistics come from one fused
 * layer-norm call over the group's flattened values, then the per-channel affine is applied.
 */
public final class GroupNorm extends Module {
  public final int groups;
  public final int channels;
  public final float eps;
  public final Parameter weight; // (C)
  public final Parameter bias; // (C)

  public GroupNorm(int groups, int channels, float eps) {
    if (channels % groups != 0) {
      throw new IllegalArgumentException(
          "GroupNorm: channels " + channels + " is not divisible by groups " + groups);
    }
    this.groups = groups;
    this.channels = channels;
    this.eps = eps;
    this.weight = parameter("weight", new Shape(channels));
    this.bias = parameter("bias", new Shape(channels));
  }

  // DJL's layer norm needs explicit gain/bias: ones and zeros per group size, kept with the
  // weights.
  private final Map<Long, NDArray[]> unitAffine = new ConcurrentHashMap<>();

  private NDArray[] unitAffine(long groupSize, NDArray like) {
    // Made in the weight's manager; a weight override of one request (WeightEdits) lives in that
    // request's manager, so what was made beside it is gone afterwards: make it again.
    unitAffine.computeIfPresent(
        groupSize, (n, unit) -> unit[0].isReleased() || unit[1].isReleased() ? null : unit);
    return unitAffine.computeIfAbsent(
        groupSize,
        n -> {
          NDManager owner = weight.get().getManager();
          NDArray[] unit = {
            owner.ones(new Shape(n), like.getDataType(), like.getDevice()),
            owner.zeros(new Shape(n), like.getDataType(), like.getDevice())
          };
          NDScope.unregister(unit);
          return unit;
        });
  }

  /** x: (B, C, ...) → same shape. */
  public NDArray forward(NDArray x) {
    Shape shape = x.getShape();
    long batch = shape.get(0);
    NDArray grouped = x.reshape(batch, groups, -1);
    long groupSize = grouped.getShape().get(2);
    NDArray[] unit = unitAffine(groupSize, x);
    NDArray normed =
        ai.djl.nn.norm.LayerNorm.layerNorm(grouped, new Shape(groupSize), unit[0], unit[1], eps)
            .singletonOrThrow();
    if (grouped != x) {
      BlockScope.release(grouped);
    }
    NDArray[] affine = affine(shape.dimension());
    // Each temporary is as large as x: release it as soon as the next op has used it.
    NDArray scaled =
        BlockScope.consume(
            BlockScope.consume(normed, n -> n.reshape(shape)), n -> n.mul(affine[0]));
    return BlockScope.consume(scaled, n -> n.add(affine[1]));
  }

  // Gain and bias reshaped to (1, C, 1, ...), cached per rank: a reshape made per call would land
  // in the weights' long-lived manager and pile up there.
  private final Map<Integer, NDArray[]> affine = new ConcurrentHashMap<>();

  private NDArray[] affine(int rank) {
    NDArray[] cached = affine.get(rank);
    if (cached != null
        && cached[0] != null
        && !cached[0].isReleased()
        && cached[2] == weight.get()
        && cached[3] == bias.get()) {
      return cached;
    }
    if (cached != null) {
      // The parameters were replaced (e.g. by an optimiser step): free the stale views, which
      // would otherwise pile up in the weights' manager.
      cached[0].close();
      cached[1].close();
    }
    long[] dims = new long[rank];
    Arrays.fill(dims, 1);
    dims[1] = channels;
    Shape s = new Shape(dims);
    NDArray w = weight.get().reshape(s);
    NDArray b = bias.get().reshape(s);
    NDScope.unregister(w, b);
    NDArray[] fresh = {w, b, weight.get(), bias.get()};
    affine.put(rank, fresh);
    return fresh;
  }
}
