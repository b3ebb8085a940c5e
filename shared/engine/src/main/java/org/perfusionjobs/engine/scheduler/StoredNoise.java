package org.perfusionjobs.engine.scheduler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** Replays recorded noise, one slice of a (K, ...) array per call, in order. */
final class StoredNoise implements NoiseSource {
  private final NDArray stacked; // (K, ...)
  private int next;

  StoredNoise(NDArray stacked) {
    this.stacked = stacked;
  }

  @Override
  public NDArray normal(Shape shape, NDManager manager) {
    long available = stacked.getShape().get(0);
    if (next >= available) {
      throw new IllegalStateException(
          "stored noise exhausted: all " + available + " draws were used");
    }
    Shape stored = stacked.getShape().slice(1);
    if (!stored.equals(shape)) {
      throw new IllegalArgumentException(
          "draw " + next + " asks for " + shape + " but the stored noise is " + stored);
    }
    NDArray slice = stacked.get(next++); // a view of the stored data
    NDArray asFloat = slice.toType(DataType.FLOAT32, false);
    NDArray moved = asFloat.toDevice(manager.getDevice(), false);
    // a copy of its own: callers may scale the draw in place
    NDArray out = moved.duplicate();
    out.attach(manager);
    for (NDArray temp : new NDArray[] {moved, asFloat, slice}) {
      if (temp != out && !temp.isReleased()) {
        temp.close();
      }
    }
    return out;
  }
}
