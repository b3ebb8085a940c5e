package org.perfusionjobs.world;

import java.util.List;

/**
 * Object sizes, as the radius of the shape's unit box in pixels of the 64x64 image. LARGE plus the
 * renderer's margin just fits a cell of the 3x3 grid, which is what keeps objects apart.
 */
public enum Size {
  SMALL(List.of("small", "little"), 5),
  MEDIUM(List.of("medium"), 7.5),
  LARGE(List.of("large", "big"), 10);

  private final List<String> words;
  private final double radius;

  Size(List<String> words, double radius) {
    this.words = words;
    this.radius = radius;
  }

  public List<String> words() {
    return words;
  }

  /** Half the side of the object's bounding box, in pixels. */
  public double radius() {
    return radius;
  }
}
