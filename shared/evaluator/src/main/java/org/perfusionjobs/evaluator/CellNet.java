package org.perfusionjobs.evaluator;

import ai.djl.ndarray.NDArray;
import org.perfusionjobs.engine.nn.Activations;
import org.perfusionjobs.engine.nn.Conv2d;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Module;

/**
 * The evaluator's network: one 24x24 crop around a cell of the 3x3 grid in, the logits of every
 * attribute of that cell out ({@link Heads}). A small CNN: the world's objects are flat colours on
 * flat backdrops, so three convolutions see all there is.
 */
final class CellNet extends Module {
  final Conv2d convIn = child("conv_in", new Conv2d(3, 16, 3, 1, 1)); // (N,3,24,24) -> (N,16,24,24)
  final Conv2d conv1 = child("conv1", new Conv2d(16, 32, 3, 2, 1)); // -> (N,32,12,12)
  final Conv2d conv2 = child("conv2", new Conv2d(32, 64, 3, 2, 1)); // -> (N,64,6,6)
  final Linear fc = child("fc", new Linear(64 * 6 * 6, 128, true)); // -> (N,128)
  final Linear head; // -> (N, layout width)

  CellNet(HeadLayout layout) {
    head = child("head", new Linear(128, layout.width(), true));
  }

  /**
   * @param crops (N, 3, 24, 24) in [-1, 1] @return logits (N, {@link HeadLayout#width})
   */
  NDArray forward(NDArray crops) {
    NDArray h = Activations.silu(convIn.forward(crops));
    h = Activations.silu(conv1.forward(h));
    h = Activations.silu(conv2.forward(h));
    h = Activations.silu(fc.forward(h.reshape(h.getShape().get(0), -1)));
    return head.forward(h);
  }
}
