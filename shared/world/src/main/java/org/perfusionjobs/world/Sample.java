package org.perfusionjobs.world;

import java.awt.image.BufferedImage;
import java.util.List;

/**
 * One generated example: the seed that reproduces it, the scene, its 64x64 RGB image, one soft mask
 * per object (scene order) and a caption.
 */
public record Sample(
    long seed, Scene scene, BufferedImage image, List<BufferedImage> masks, String caption) {
  public Sample {
    masks = List.copyOf(masks);
  }
}
