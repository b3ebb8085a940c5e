package org.perfusionjobs.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.testdata.TestData;

class ImageCodecTest {
  @TempDir Path dir;

  /** diffusers' own post-processing of the reference runs gives exactly these 8-bit pixels. */
  /**
   * A batch is the images' own tensors stacked in order, on the caller's manager, with nothing else
   * left on it.
   */
  @Test
  void batchStacksTheImagesInOrder() {
    BufferedImage a = new BufferedImage(4, 3, BufferedImage.TYPE_INT_RGB);
    BufferedImage b = new BufferedImage(4, 3, BufferedImage.TYPE_INT_RGB);
    a.setRGB(1, 2, 0xFF8000);
    b.setRGB(3, 0, 0x00FF40);
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray batch = ImageCodec.toTensor(List.of(a, b), m);
      assertEquals(new Shape(2, 3, 3, 4), batch.getShape());
      assertEquals(1, m.getManagedArrays().size(), "only the batch stays on the caller's manager");
      try (NDManager ref = NDManager.newBaseManager()) {
        assertTrue(
            batch
                .get("0:1")
                .contentEquals(ImageCodec.toTensor(a, ref).toDevice(batch.getDevice(), false)));
        assertTrue(
            batch
                .get("1:2")
                .contentEquals(ImageCodec.toTensor(b, ref).toDevice(batch.getDevice(), false)));
      }
    }
  }

  @Test
  void postProcessingMatchesDiffusersBitForBit() throws Exception {
    Path ref = TestData.sdTinyRef().resolve("reference");
    for (String run : new String[] {"ddim_eta0", "ddim_eta1"}) {
      try (NDManager m = NDManager.newBaseManager();
          SafetensorsFile f = SafetensorsFile.open(ref.resolve(run + ".safetensors"))) {
        BufferedImage img = ImageCodec.toImages(f.read("decoded_image", m)).get(0);
        int[] expected = f.read("image_uint8", m).toType(DataType.INT32, false).toIntArray();
        BufferedImage png = ImageCodec.read(ref.resolve(run + "_final.png"));
        int o = 0;
        for (int y = 0; y < 32; y++) {
          for (int x = 0; x < 32; x++) {
            int rgb = img.getRGB(x, y) & 0xffffff;
            int want = (expected[o] << 16) | (expected[o + 1] << 8) | expected[o + 2];
            o += 3;
            assertEquals(want, rgb, run + " pixel " + x + "," + y);
            assertEquals(png.getRGB(x, y) & 0xffffff, rgb, run + " PNG pixel " + x + "," + y);
          }
        }
      }
    }
  }

  @Test
  void pngRoundTripAndTensorRange() throws Exception {
    BufferedImage img = new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
    img.setRGB(0, 0, 0xff0080);
    img.setRGB(2, 1, 0x00ff00);
    Path p = dir.resolve("a/b.png");
    ImageCodec.writePng(img, p);
    BufferedImage back = ImageCodec.read(p);
    assertEquals(0xff0080, back.getRGB(0, 0) & 0xffffff);
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray t = ImageCodec.toTensor(back, m);
      assertEquals(new Shape(1, 3, 2, 3), t.getShape());
      assertEquals(1f, t.getFloat(0, 0, 0, 0), 1e-6f);
      assertEquals(-1f, t.getFloat(0, 1, 0, 0), 1e-6f);
      BufferedImage again = ImageCodec.toImages(t).get(0);
      assertEquals(0xff0080, again.getRGB(0, 0) & 0xffffff);
      assertEquals(0x00ff00, again.getRGB(2, 1) & 0xffffff);
    }
  }

  @Test
  void undecodableBytesNameTheFile() throws Exception {
    Path p = dir.resolve("broken.png");
    Files.write(p, new byte[] {1, 2, 3, 4});
    IOException e = assertThrows(IOException.class, () -> ImageCodec.read(p));
    assertTrue(e.getMessage().contains("broken.png"), e.getMessage());
  }

  @Test
  void maxLevelDifferenceIsTheLargestChannelGap() {
    BufferedImage a = new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
    BufferedImage b = new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
    a.setRGB(1, 1, 0x102030);
    b.setRGB(1, 1, 0x102033); // blue 3 levels apart
    a.setRGB(2, 0, 0x050000);
    b.setRGB(2, 0, 0x030000); // red 2 levels apart
    assertEquals(3, ImageCodec.maxLevelDifference(a, b));
    assertEquals(0, ImageCodec.maxLevelDifference(a, a));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            ImageCodec.maxLevelDifference(a, new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB)));
  }
}
