package org.perfusionjobs.world;

import java.util.List;

/**
 * Where an object sits: one cell of a 3x3 grid over the image. Captions name a position either as a
 * phrase ("in the top left corner") or, in list-like captions, as bare words ("top left").
 */
public enum Position {
  TOP_LEFT(0, 0, List.of("in the top left corner", "at the top left"), List.of("top left")),
  TOP(1, 0, List.of("at the top"), List.of("top")),
  TOP_RIGHT(2, 0, List.of("in the top right corner", "at the top right"), List.of("top right")),
  LEFT(0, 1, List.of("on the left"), List.of("left")),
  CENTRE(1, 1, List.of("in the centre", "in the middle"), List.of("centre", "middle")),
  RIGHT(2, 1, List.of("on the right"), List.of("right")),
  BOTTOM_LEFT(
      0, 2, List.of("in the bottom left corner", "at the bottom left"), List.of("bottom left")),
  BOTTOM(1, 2, List.of("at the bottom"), List.of("bottom")),
  BOTTOM_RIGHT(
      2, 2, List.of("in the bottom right corner", "at the bottom right"), List.of("bottom right"));

  private final int column;
  private final int row;
  private final List<String> phrases;
  private final List<String> words;

  Position(int column, int row, List<String> phrases, List<String> words) {
    this.column = column;
    this.row = row;
    this.phrases = phrases;
    this.words = words;
  }

  /** 0 = left, 1 = centre, 2 = right. */
  public int column() {
    return column;
  }

  /** 0 = top, 1 = middle, 2 = bottom. */
  public int row() {
    return row;
  }

  /** Prepositional phrases: "a red star {phrase}". */
  public List<String> phrases() {
    return phrases;
  }

  /** Bare words, for list-like captions: "a photo of a star, red, small, {word}". */
  public List<String> words() {
    return words;
  }

  /**
   * Whether a second object may stand here when the first is at {@code other}: a different cell in
   * the same row or column, so that exactly one {@link Relation} describes the pair.
   */
  public boolean alignedWith(Position other) {
    return this != other && (row == other.row || column == other.column);
  }
}
