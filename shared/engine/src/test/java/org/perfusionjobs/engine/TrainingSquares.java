package org.perfusionjobs.engine;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import org.perfusionjobs.engine.perfusion.TrainingImages;

/**
 * Training images for the trainers' tests: a red square of each given side at the same place on a
 * blue ground, 32x32, with exact masks. Squares of different sides make masks that sum differently,
 * so a loss normalised over the wrong set of images shows.
 */
public final class TrainingSquares {
  private TrainingSquares() {}

  public static TrainingImages ofSides(int... sides) {
    List<BufferedImage> images = new ArrayList<>();
    List<BufferedImage> masks = new ArrayList<>();
    for (int side : sides) {
      images.add(square(side, false));
      masks.add(square(side, true));
    }
    return new TrainingImages(images, masks);
  }

  private static BufferedImage square(int side, boolean mask) {
    BufferedImage img =
        new BufferedImage(32, 32, mask ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setColor(mask ? Color.BLACK : new Color(60, 90, 160));
    g.fillRect(0, 0, 32, 32);
    g.setColor(mask ? Color.WHITE : Color.RED);
    g.fillRect(3, 5, side, side);
    g.dispose();
    return img;
  }
}
