package org.perfusionjobs.evaluator;

import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/**
 * The groups of the network's output row, each a softmax over one attribute: whether an object
 * stands in the cell, its shape, colour, size and fill, and the image's background (predicted
 * from every cell and averaged).
 */
enum Heads {
  PRESENT(2),
  SHAPE(Shape.values().length),
  COLOUR(Colour.values().length),
  SIZE(Size.values().length),
  PATTERN(Pattern.values().length),
  BACKGROUND(Background.values().length);

  static final int WIDTH;

  static {
    int w = 0;
    for (Heads h : values()) {
      h.offset = w;
      w += h.classes;
    }
    WIDTH = w;
  }

  final int classes;
  int offset;

  Heads(int classes) {
    this.classes = classes;
  }

  /** The NDArray index of this group's columns. */
  String columns() {
    return ":, " + offset + ":" + (offset + classes);
  }
}
