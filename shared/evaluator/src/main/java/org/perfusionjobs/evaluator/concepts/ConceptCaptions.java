package org.perfusionjobs.evaluator.concepts;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.perfusionjobs.engine.perfusion.TrainingImages;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Size;

/**
 * Training prompts that describe one concept image as it is (beyond the paper: docs/perfusion.md,
 * "Captions per training image"), in the world's own caption language: the cell of the 3x3 grid,
 * the size and the background, read from the image's exact mask and pixels, so no prompt says "a
 * large {}" of a medium object or "in the centre" of one on the left. The templates are the world
 * captioner's one-object templates with "{colour} {shape}" replaced by the concept word.
 */
public final class ConceptCaptions {
  /**
   * The largest bounding-box side, as a share of the image width, of a small object (the world's
   * small objects measure 9-11 px of 64, medium 13-16, large 17-21, over every shape and jitter).
   */
  static final double SMALL_MAX = 12.5 / 64;

  static final double MEDIUM_MAX = 16.5 / 64;

  /** Templates with {at}, {size}, {background}, {where} filled from the image. */
  static final List<String> TEMPLATES =
      List.of(
          "a {size} {} {at}",
          "a {size} {} {at} on a {background} background",
          "a {} {at}",
          "a {size} {}",
          "a {}",
          "a {} on a {background} background",
          "a photo of a {}, {size}, {where}",
          "a picture of a {size} {} {at}",
          "{at}, a {size} {}");

  private ConceptCaptions() {}

  /** What a caption may say of one image: its object's cell and size, and the background. */
  public record Reading(Position position, Size size, Background background) {}

  /**
   * Reads one image and its mask (white = object; any side length, square): the cell of the
   * bounding box's centre of the mask's covered pixels, the size from the box's longer side, the
   * background as the world background nearest to the mean colour of the uncovered pixels.
   */
  public static Reading read(BufferedImage image, BufferedImage mask) {
    int w = mask.getWidth();
    int h = mask.getHeight();
    if (image.getWidth() != w || image.getHeight() != h) {
      throw new IllegalArgumentException(
          "mask is " + w + "x" + h + ", image " + image.getWidth() + "x" + image.getHeight());
    }
    var raster = mask.getRaster();
    int x0 = w;
    int x1 = -1;
    int y0 = h;
    int y1 = -1;
    double[] bg = new double[3];
    int bgCount = 0;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        if (raster.getSample(x, y, 0) > 0) {
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
          y0 = Math.min(y0, y);
          y1 = Math.max(y1, y);
        } else {
          int rgb = image.getRGB(x, y);
          bg[0] += (rgb >> 16) & 0xff;
          bg[1] += (rgb >> 8) & 0xff;
          bg[2] += rgb & 0xff;
          bgCount++;
        }
      }
    }
    if (x1 < 0 || bgCount == 0) {
      throw new IllegalArgumentException("the mask covers no pixel or every pixel");
    }
    double cx = (x0 + x1 + 1) / 2.0 / w;
    double cy = (y0 + y1 + 1) / 2.0 / h;
    int column = Math.min(2, (int) (cx * 3));
    int row = Math.min(2, (int) (cy * 3));
    Position position = null;
    for (Position p : Position.values()) {
      if (p.column() == column && p.row() == row) {
        position = p;
      }
    }
    double extent = Math.max(x1 - x0 + 1, y1 - y0 + 1) / (double) w;
    Size size = extent <= SMALL_MAX ? Size.SMALL : extent <= MEDIUM_MAX ? Size.MEDIUM : Size.LARGE;
    Background background = null;
    double best = Double.MAX_VALUE;
    for (Background b : Background.values()) {
      double d = 0;
      for (int c = 0; c < 3; c++) {
        double diff = bg[c] / bgCount - ((b.rgb() >> (16 - 8 * c)) & 0xff);
        d += diff * diff;
      }
      if (d < best) {
        best = d;
        background = b;
      }
    }
    return new Reading(position, size, background);
  }

  /** Every filling of {@link #TEMPLATES} with the reading's words (each synonym once). */
  public static List<String> templates(Reading r) {
    Set<String> out = new LinkedHashSet<>();
    for (String t : TEMPLATES) {
      List<String> filled = List.of(t);
      filled = fill(filled, "{at}", r.position().phrases());
      filled = fill(filled, "{where}", r.position().words());
      filled = fill(filled, "{size}", r.size().words());
      filled = fill(filled, "{background}", r.background().words());
      out.addAll(filled);
    }
    return List.copyOf(out);
  }

  private static List<String> fill(List<String> in, String key, List<String> words) {
    List<String> out = new ArrayList<>();
    for (String t : in) {
      if (!t.contains(key)) {
        out.add(t);
        continue;
      }
      for (String w : words) {
        out.add(t.replace(key, w));
      }
    }
    return out;
  }

  /** The captions of one image and of its mirror image. */
  public static TrainingImages.ImageCaptions of(BufferedImage image, BufferedImage mask) {
    return new TrainingImages.ImageCaptions(
        templates(read(image, mask)), templates(read(mirror(image), mirror(mask))));
  }

  /**
   * Per-image captions for a concept's training images, each read at the model's image size (as the
   * trainer sees it); an image without a mask keeps the config's templates (a null entry).
   */
  public static TrainingImages withCaptions(TrainingImages data, int imageSize) {
    List<TrainingImages.ImageCaptions> captions = new ArrayList<>();
    for (int i = 0; i < data.images().size(); i++) {
      BufferedImage mask = data.masks() == null ? null : data.masks().get(i);
      captions.add(
          mask == null
              ? null
              : of(
                  TrainingImages.fit(data.images().get(i), imageSize, BufferedImage.TYPE_INT_RGB),
                  TrainingImages.fit(mask, imageSize, BufferedImage.TYPE_BYTE_GRAY)));
    }
    return data.withCaptions(captions);
  }

  static BufferedImage mirror(BufferedImage src) {
    BufferedImage out = new BufferedImage(src.getWidth(), src.getHeight(), src.getType());
    for (int y = 0; y < src.getHeight(); y++) {
      for (int x = 0; x < src.getWidth(); x++) {
        out.setRGB(src.getWidth() - 1 - x, y, src.getRGB(x, y));
      }
    }
    return out;
  }
}
