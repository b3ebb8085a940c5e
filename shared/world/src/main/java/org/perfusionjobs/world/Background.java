package org.perfusionjobs.world;

import java.util.List;

/**
 * Plain backdrops, pale or neutral so that none is mistaken for an object {@link Colour} (nor for
 * each other).
 */
public enum Background {
  WHITE(List.of("white"), 250, 250, 250),
  GREY(List.of("grey"), 128, 128, 128),
  SKY(List.of("sky blue"), 160, 205, 245),
  SAND(List.of("sand", "beige"), 220, 200, 150);

  private final List<String> words;
  private final int rgb;

  Background(List<String> words, int r, int g, int b) {
    this.words = words;
    this.rgb = (r << 16) | (g << 8) | b;
  }

  /** Caption words, used as "on a ... background"; any of them may be used. */
  public List<String> words() {
    return words;
  }

  /** 0xRRGGBB. */
  public int rgb() {
    return rgb;
  }
}
