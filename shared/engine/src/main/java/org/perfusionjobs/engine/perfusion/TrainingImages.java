package org.perfusionjobs.engine.perfusion;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A concept's training images and optional soft masks (white = concept, black = background), each
 * resized to a square of the model's image size: scaled so the shorter side fits, then centre
 * cropped, with bicubic interpolation. A missing mask means "the whole image".
 *
 * <p>Optional {@code captions}, one per image (an entry may be null): training prompts that
 * describe that image (beyond the paper: docs/perfusion.md, "Captions per training image"); the
 * trainer then draws each image's prompt from its own list instead of the config's templates.
 */
public record TrainingImages(
    List<BufferedImage> images, List<BufferedImage> masks, List<ImageCaptions> captions) {

  /**
   * Prompts with {} for the concept word that are true of one training image ({@code templates})
   * and of its horizontal mirror image ({@code mirrored}, used when the trainer flips it).
   */
  public record ImageCaptions(List<String> templates, List<String> mirrored) {
    public ImageCaptions {
      for (List<String> l : List.of(templates, mirrored)) {
        if (l.isEmpty() || !l.stream().allMatch(t -> t.contains("{}"))) {
          throw new IllegalArgumentException("captions: each must contain {} for the word");
        }
      }
      templates = List.copyOf(templates);
      mirrored = List.copyOf(mirrored);
    }

    /**
     * One caption a user wrote for an image; its mirror swaps the words left and right (the only
     * words of a caption that a horizontal flip makes false), keeping their case.
     */
    public static ImageCaptions of(String caption) {
      return new ImageCaptions(List.of(caption), List.of(mirror(caption)));
    }

    static String mirror(String caption) {
      Matcher m = LEFT_RIGHT.matcher(caption);
      StringBuilder out = new StringBuilder();
      while (m.find()) {
        String w = m.group();
        String swapped =
            switch (w.toLowerCase(Locale.ROOT)) {
              case "left" -> "right";
              default -> "left";
            };
        if (Character.isUpperCase(w.charAt(0))) {
          swapped = Character.toUpperCase(swapped.charAt(0)) + swapped.substring(1);
        }
        m.appendReplacement(out, swapped);
      }
      m.appendTail(out);
      return out.toString();
    }

    private static final Pattern LEFT_RIGHT =
        Pattern.compile("\\b(left|right)\\b", Pattern.CASE_INSENSITIVE);
  }

  public TrainingImages(List<BufferedImage> images, List<BufferedImage> masks) {
    this(images, masks, null);
  }

  public TrainingImages {
    Objects.requireNonNull(images, "images");
    if (images.isEmpty()) {
      throw new IllegalArgumentException("images: at least one training image is needed");
    }
    if (masks != null && masks.size() != images.size()) {
      throw new IllegalArgumentException(
          "masks: " + masks.size() + " masks for " + images.size() + " images");
    }
    if (captions != null && captions.size() != images.size()) {
      throw new IllegalArgumentException(
          "captions: " + captions.size() + " caption lists for " + images.size() + " images");
    }
    images = List.copyOf(images);
    masks = masks == null ? null : Collections.unmodifiableList(new ArrayList<>(masks));
    captions = captions == null ? null : Collections.unmodifiableList(new ArrayList<>(captions));
  }

  /** These images with per-image captions (null: the config's templates for every image). */
  public TrainingImages withCaptions(List<ImageCaptions> c) {
    return new TrainingImages(images, masks, c);
  }

  public static TrainingImages of(List<BufferedImage> images) {
    return new TrainingImages(images, null);
  }

  /**
   * Above this {@link #mirrorAsymmetry} the concept is not mirror-symmetric, and the trainers do
   * not flip it (a two-tone object, a checkerboard with its colour in one corner, text). Measured
   * on the suite's training images: 0.01-0.06 for striped, dotted and ringed objects (their
   * antialiased edges), 0.37-0.49 for halves and checks (docs/perfusion-results.md).
   */
  public static final double MIRROR_ASYMMETRY_LIMIT = 0.15;

  /**
   * How far the concept is from its own mirror image, in [0, 1]: per image, the mean absolute RGB
   * difference (over 3 x 255) between each object pixel and its mirror about the vertical axis
   * through the middle of the object's columns (object: mask at least half white; no mask: the
   * whole image), over the pixels whose mirror is also on the object; the mean over the images.
   */
  public double mirrorAsymmetry() {
    double sum = 0;
    for (int i = 0; i < images.size(); i++) {
      BufferedImage img = images.get(i);
      BufferedImage mask = masks == null ? null : masks.get(i);
      int w = img.getWidth();
      int h = img.getHeight();
      if (w != h || (mask != null && (mask.getWidth() != w || mask.getHeight() != h))) {
        // As the trainer sees them: both centre-cropped to the same square.
        int side = Math.min(w, h);
        img = fit(img, side, BufferedImage.TYPE_INT_RGB);
        mask = mask == null ? null : fit(mask, side, BufferedImage.TYPE_BYTE_GRAY);
      }
      sum += mirrorAsymmetry(img, mask);
    }
    return sum / images.size();
  }

  /** Whether a horizontal flip of these images shows the same concept. */
  public boolean mirrorSymmetric() {
    return mirrorAsymmetry() <= MIRROR_ASYMMETRY_LIMIT;
  }

  private static double mirrorAsymmetry(BufferedImage img, BufferedImage mask) {
    int w = img.getWidth();
    int h = img.getHeight();
    boolean[][] on = new boolean[h][w];
    int x0 = w;
    int x1 = -1;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        on[y][x] = mask == null || (mask.getRGB(x, y) & 0xFF) >= 128;
        if (on[y][x]) {
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
        }
      }
    }
    double diff = 0;
    long n = 0;
    for (int y = 0; y < h; y++) {
      for (int x = x0; x <= x1; x++) {
        int xm = x0 + x1 - x;
        if (on[y][x] && on[y][xm]) {
          int a = img.getRGB(x, y);
          int b = img.getRGB(xm, y);
          diff +=
              Math.abs(((a >> 16) & 0xFF) - ((b >> 16) & 0xFF))
                  + Math.abs(((a >> 8) & 0xFF) - ((b >> 8) & 0xFF))
                  + Math.abs((a & 0xFF) - (b & 0xFF));
          n++;
        }
      }
    }
    return n == 0 ? 0 : diff / (3.0 * 255 * n);
  }

  /**
   * {@code src} scaled so its shorter side is {@code size}, centre-cropped to a square (bicubic).
   */
  public static BufferedImage fit(BufferedImage src, int size, int type) {
    double scale = Math.max((double) size / src.getWidth(), (double) size / src.getHeight());
    int w = (int) Math.round(src.getWidth() * scale);
    int h = (int) Math.round(src.getHeight() * scale);
    BufferedImage out = new BufferedImage(size, size, type);
    Graphics2D g = out.createGraphics();
    try {
      g.setRenderingHint(
          RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
      g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
      g.drawImage(src, (size - w) / 2, (size - h) / 2, w, h, null);
    } finally {
      g.dispose();
    }
    return out;
  }
}
