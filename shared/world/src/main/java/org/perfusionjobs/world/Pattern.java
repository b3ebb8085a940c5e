package org.perfusionjobs.world;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * How an object is filled: in its own colour, or in its colour and white ({@link #SECOND_RGB}) in
 * one of the hidden patterns. No caption has a word for a pattern: they exist so that concepts the
 * base model cannot draw from words alone (a striped star, a dotted heart) can be rendered, learned
 * with Perfusion and detected by the evaluator. Every pattern is laid out in the object's unit box
 * [-1, 1]², so it scales with the object's size.
 */
public enum Pattern {
  PLAIN("plain"),
  /**
   * Five horizontal bands across the unit box, its colour at the top: 4-pixel bands on a large
   * object.
   */
  STRIPES("stripes"),
  /** A 3x3 grid of white dots (centres at -0.6, 0, 0.6; radius 0.22) on its colour. */
  DOTS("dots"),
  /** A 4x4 checkerboard over the unit box, its colour in the top left square. */
  CHECKS("checks"),
  /** Its outline only: white inside the outline shrunk to {@link #RING_INNER} of its size. */
  RING("ring"),
  /** Two-tone halves: its colour on the left half, white on the right. */
  HALVES("halves");

  /**
   * Bands of {@link #STRIPES} across the unit box [-1, 1]: 20x20 pixels for a large object, so
   * 4-pixel bands.
   */
  public static final int BANDS = 5;

  /** The second colour of every pattern, 0xRRGGBB. */
  public static final int SECOND_RGB = 0xFAFAFA;

  /** The colour of the odd bands of {@link #STRIPES} (the same white as every pattern's). */
  public static final int STRIPE_RGB = SECOND_RGB;

  /** Scale of the white inner outline of {@link #RING}: a quarter of the object's area is white. */
  public static final double RING_INNER = 0.5;

  /** Squares of {@link #CHECKS} per side of the unit box. */
  public static final int CHECKS_PER_SIDE = 4;

  /** Dot centres of {@link #DOTS} along each axis, and their radius, in unit-box coordinates. */
  static final double[] DOT_CENTRES = {-0.6, 0, 0.6};

  static final double DOT_RADIUS = 0.22;

  private final String word;

  Pattern(String word) {
    this.word = word;
  }

  /** The name used in concept specs ({@code pattern=dots}); never a caption word. */
  public String word() {
    return word;
  }

  /** Every pattern but {@link #PLAIN}, in declaration order. */
  public static List<Pattern> hidden() {
    return Arrays.stream(values()).filter(p -> p != PLAIN).toList();
  }

  /**
   * The pattern named {@code name} (its word or enum name, any case); one-line error naming the
   * choices.
   */
  public static Pattern fromName(String name) {
    String n = name.trim().toLowerCase(Locale.ROOT);
    for (Pattern p : values()) {
      if (p.word.equals(n) || p.name().toLowerCase(Locale.ROOT).equals(n)) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "pattern: unknown '"
            + name
            + "', use one of "
            + Arrays.stream(values()).map(Pattern::word).toList());
  }

  /**
   * Whether the point (u, v) of the unit box (v down), which lies inside {@code shape}, is in the
   * object's own colour rather than white.
   */
  public boolean ownColourAt(Shape shape, double u, double v) {
    return switch (this) {
      case PLAIN -> true;
      case STRIPES -> Math.floorMod(cell(v, BANDS), 2) == 0;
      case DOTS -> !inDot(u, v);
      case CHECKS -> Math.floorMod(cell(u, CHECKS_PER_SIDE) + cell(v, CHECKS_PER_SIDE), 2) == 0;
      case RING -> !shape.contains(u / RING_INNER, v / RING_INNER);
      case HALVES -> u < 0;
    };
  }

  /** Which of {@code n} equal slices of [-1, 1] holds {@code t}. */
  private static int cell(double t, int n) {
    return (int) Math.floor((t + 1) / 2 * n);
  }

  private static boolean inDot(double u, double v) {
    for (double cy : DOT_CENTRES) {
      for (double cx : DOT_CENTRES) {
        double du = u - cx;
        double dv = v - cy;
        if (du * du + dv * dv <= DOT_RADIUS * DOT_RADIUS) {
          return true;
        }
      }
    }
    return false;
  }
}
