package org.perfusionjobs.world;

import java.util.List;

/** How the first object of a two-object scene stands to the second. */
public enum Relation {
  LEFT_OF(List.of("left of", "to the left of")),
  RIGHT_OF(List.of("right of", "to the right of")),
  ABOVE(List.of("above")),
  BELOW(List.of("below", "under"));

  private final List<String> phrases;

  Relation(List<String> phrases) {
    this.phrases = phrases;
  }

  /** "a red circle {phrase} a blue square". */
  public List<String> phrases() {
    return phrases;
  }

  /** The relation of the second object to the first. */
  public Relation inverse() {
    return switch (this) {
      case LEFT_OF -> RIGHT_OF;
      case RIGHT_OF -> LEFT_OF;
      case ABOVE -> BELOW;
      case BELOW -> ABOVE;
    };
  }

  /** The relation of an object at {@code a} to one at {@code b}; they must be aligned. */
  public static Relation between(Position a, Position b) {
    if (!a.alignedWith(b)) {
      throw new IllegalArgumentException(a + " and " + b + " share no row or column");
    }
    if (a.row() == b.row()) {
      return a.column() < b.column() ? LEFT_OF : RIGHT_OF;
    }
    return a.row() < b.row() ? ABOVE : BELOW;
  }
}
