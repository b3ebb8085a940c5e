package org.perfusionjobs.world;

import java.util.Objects;

/** One object of a scene: what it is, its colour, its cell, its size and its fill. */
public record SceneObject(
    Shape shape, Colour colour, Position position, Size size, Pattern pattern) {
  public SceneObject {
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(colour, "colour");
    Objects.requireNonNull(position, "position");
    Objects.requireNonNull(size, "size");
    Objects.requireNonNull(pattern, "pattern");
  }

  /** A plainly filled object, as every object of the captioned world. */
  public SceneObject(Shape shape, Colour colour, Position position, Size size) {
    this(shape, colour, position, size, Pattern.PLAIN);
  }

  public SceneObject withPattern(Pattern p) {
    return new SceneObject(shape, colour, position, size, p);
  }
}
