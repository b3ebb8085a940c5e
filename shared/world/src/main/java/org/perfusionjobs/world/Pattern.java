package org.perfusionjobs.world;

/**
 * How an object is filled. The world's captioned data is always {@link #PLAIN}: stripes exist so
 * that a concept the base model cannot draw from words alone (a striped star) can be rendered,
 * learned with Perfusion and detected by the evaluator.
 */
public enum Pattern {
  PLAIN,
  /** Horizontal bands across the object's unit box, in its colour and white (starting with its colour at the top). */
  STRIPES;

  /** Bands of {@link #STRIPES} across the unit box [-1, 1]: 20x20 pixels for a large object, so 4-pixel bands. */
  public static final int BANDS = 5;
  /** The colour of the odd bands of {@link #STRIPES}, 0xRRGGBB. */
  public static final int STRIPE_RGB = 0xFAFAFA;

  /** Whether unit-box height {@code v} in [-1, 1] (down) falls in a band of the object's own colour. */
  public boolean ownColourAt(double v) {
    if (this == PLAIN) {
      return true;
    }
    int band = (int) Math.floor((v + 1) / 2 * BANDS);
    return Math.floorMod(band, 2) == 0;
  }
}
