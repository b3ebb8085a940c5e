package org.perfusionjobs.evaluator;

/**
 * The groups of the network's output row, each a softmax over one attribute: whether an object
 * stands in the cell, its shape, colour, size and fill, and the image's background (predicted from
 * every cell and averaged). Widths and offsets depend on the patterns an evaluator knows: {@link
 * HeadLayout}.
 */
enum Heads {
  PRESENT,
  SHAPE,
  COLOUR,
  SIZE,
  PATTERN,
  BACKGROUND
}
