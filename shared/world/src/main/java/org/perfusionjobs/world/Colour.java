package org.perfusionjobs.world;

import java.util.List;

/**
 * Object colours, saturated and at least 95 apart in RGB (Euclidean) from each other and from every
 * {@link Background}, so that a small classifier (and a small diffusion model) cannot confuse them.
 */
public enum Colour {
  RED("red", 215, 35, 35),
  GREEN("green", 40, 165, 60),
  BLUE("blue", 40, 80, 220),
  YELLOW("yellow", 245, 225, 40),
  PURPLE("purple", 140, 50, 180),
  ORANGE("orange", 245, 125, 20);

  private final List<String> words;
  private final int rgb;

  Colour(String word, int r, int g, int b) {
    this.words = List.of(word);
    this.rgb = (r << 16) | (g << 8) | b;
  }

  public List<String> words() {
    return words;
  }

  /** 0xRRGGBB. */
  public int rgb() {
    return rgb;
  }
}
