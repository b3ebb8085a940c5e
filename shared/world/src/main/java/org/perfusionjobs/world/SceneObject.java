package org.perfusionjobs.world;

import java.util.Objects;

/** One object of a scene: what it is, its colour, its cell and its size. */
public record SceneObject(Shape shape, Colour colour, Position position, Size size) {
  public SceneObject {
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(colour, "colour");
    Objects.requireNonNull(position, "position");
    Objects.requireNonNull(size, "size");
  }
}
