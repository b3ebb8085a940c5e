package org.perfusionjobs.engine.image;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * Images in and out of the model: PNG/JPEG to (1, 3, H, W) tensors in [-1, 1], and decoder output
 * to 8-bit RGB exactly as diffusers post-processes it (clamp(x/2 + 0.5, 0, 1), times 255, rounded
 * half to even like numpy).
 */
public final class ImageCodec {
  private ImageCodec() {}

  /** Reads a PNG or JPEG; the message names the file if it is missing or cannot be decoded. */
  public static BufferedImage read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException("image " + file + " does not exist");
    }
    return decode(Files.readAllBytes(file), file.toString());
  }

  /** Decodes PNG or JPEG bytes; {@code name} is used in the error message. */
  public static BufferedImage decode(byte[] bytes, String name) throws IOException {
    BufferedImage img;
    try {
      img = ImageIO.read(new ByteArrayInputStream(bytes));
    } catch (IOException | RuntimeException e) {
      throw new IOException("image " + name + " could not be decoded: " + e.getMessage(), e);
    }
    if (img == null) {
      throw new IOException(
          "image " + name + " is not a PNG or JPEG image (" + bytes.length + " bytes)");
    }
    return img;
  }

  /** RGB (alpha dropped, grey expanded) as (1, 3, H, W) float32 in [-1, 1]. */
  public static NDArray toTensor(BufferedImage img, NDManager m) {
    int w = img.getWidth();
    int h = img.getHeight();
    float[] data = new float[3 * h * w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int rgb = img.getRGB(x, y);
        int o = y * w + x;
        data[o] = ((rgb >> 16) & 255) / 127.5f - 1f;
        data[h * w + o] = ((rgb >> 8) & 255) / 127.5f - 1f;
        data[2 * h * w + o] = (rgb & 255) / 127.5f - 1f;
      }
    }
    return m.create(data, new Shape(1, 3, h, w));
  }

  /**
   * Images of one size as one (N, 3, H, W) float32 batch in [-1, 1], attached to {@code m}; the
   * per-image arrays are freed on the way.
   */
  public static NDArray toTensor(List<BufferedImage> images, NDManager m) {
    try (NDManager tmp = m.newSubManager()) {
      NDList list = new NDList(images.size());
      for (BufferedImage img : images) {
        list.add(toTensor(img, tmp));
      }
      NDArray batch = NDArrays.concat(list);
      batch.attach(m);
      return batch;
    }
  }

  /** A grey-level soft mask as (1, 1, H, W) in [0, 1] (white = 1). */
  public static NDArray maskToTensor(BufferedImage mask, NDManager m) {
    int w = mask.getWidth();
    int h = mask.getHeight();
    float[] data = new float[h * w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int rgb = mask.getRGB(x, y);
        data[y * w + x] = (((rgb >> 16) & 255) + ((rgb >> 8) & 255) + (rgb & 255)) / (3 * 255f);
      }
    }
    return m.create(data, new Shape(1, 1, h, w));
  }

  /**
   * The largest difference, in 8-bit levels, between two images of one size over every pixel and
   * RGB channel: how "equal within one level" is checked.
   */
  public static int maxLevelDifference(BufferedImage a, BufferedImage b) {
    if (a.getWidth() != b.getWidth() || a.getHeight() != b.getHeight()) {
      throw new IllegalArgumentException(
          "images differ in size: "
              + a.getWidth()
              + "x"
              + a.getHeight()
              + " and "
              + b.getWidth()
              + "x"
              + b.getHeight());
    }
    int worst = 0;
    for (int y = 0; y < a.getHeight(); y++) {
      for (int x = 0; x < a.getWidth(); x++) {
        int p = a.getRGB(x, y);
        int q = b.getRGB(x, y);
        for (int shift = 0; shift <= 16; shift += 8) {
          worst = Math.max(worst, Math.abs(((p >> shift) & 0xff) - ((q >> shift) & 0xff)));
        }
      }
    }
    return worst;
  }

  /** Raw decoder output (B, 3, H, W) → B RGB images. */
  public static List<BufferedImage> toImages(NDArray decoded) {
    Shape s = decoded.getShape();
    int b = (int) s.get(0);
    int h = (int) s.get(2);
    int w = (int) s.get(3);
    float[] v =
        decoded
            .toType(DataType.FLOAT32, false)
            .div(2f)
            .add(0.5f)
            .clip(0f, 1f)
            .mul(255f)
            .toFloatArray();
    List<BufferedImage> out = new ArrayList<>();
    int plane = h * w;
    for (int i = 0; i < b; i++) {
      BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
      int base = i * 3 * plane;
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          int o = y * w + x;
          int r = (int) Math.rint(v[base + o]);
          int g = (int) Math.rint(v[base + plane + o]);
          int bl = (int) Math.rint(v[base + 2 * plane + o]);
          img.setRGB(x, y, (r << 16) | (g << 8) | bl);
        }
      }
      out.add(img);
    }
    return out;
  }

  public static void writePng(BufferedImage img, Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.write(file, pngBytes(img));
  }

  public static byte[] pngBytes(BufferedImage img) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      if (!ImageIO.write(img, "png", out)) {
        throw new IOException("no PNG writer available");
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
