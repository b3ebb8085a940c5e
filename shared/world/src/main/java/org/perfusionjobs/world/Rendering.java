package org.perfusionjobs.world;

import java.awt.image.BufferedImage;
import java.util.List;

/**
 * A rendered scene: the RGB image and one soft mask per object, in scene order (grey, 255 where the
 * object covers the whole pixel, its coverage in between).
 */
public record Rendering(BufferedImage image, List<BufferedImage> masks) {
  public Rendering {
    masks = List.copyOf(masks);
  }
}
