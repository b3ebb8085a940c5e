package org.perfusionjobs.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
  @TempDir Path dir;

  @Test
  void roundTripsTensorsDtypesAndMetadata() throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> tensors = new LinkedHashMap<>();
      tensors.put("a.weight", m.arange(12f).reshape(3, 4));
      tensors.put(
          "half", m.create(new float[] {1.5f, -2f, 65504f}).toType(DataType.FLOAT16, false));
      tensors.put("ids", m.create(new long[] {1, 2, Long.MAX_VALUE}));
      Path file = dir.resolve("t.safetensors");
      SafetensorsWriter.write(file, tensors, Map.of("format", "pt", "note", "x"));

      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        assertEquals(Map.of("format", "pt", "note", "x"), f.metadata());
        assertEquals(new Shape(3, 4), f.info("a.weight").shape());
        assertArrayEquals(m.arange(12f).toFloatArray(), f.read("a.weight", m).toFloatArray());
        NDArray half = f.read("half", m);
        assertEquals(DataType.FLOAT16, half.getDataType());
        assertArrayEquals(
            new float[] {1.5f, -2f, 65504f}, f.read("half", m, DataType.FLOAT32).toFloatArray());
        assertArrayEquals(new long[] {1, 2, Long.MAX_VALUE}, f.read("ids", m).toLongArray());
      }
      // The safetensors format requires an 8-byte aligned header.
      ByteBuffer len =
          ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN);
      assertEquals(0, len.getLong() % 8);
    }
  }

  @Test
  void widensBfloat16BitExactly() throws IOException {
    // bf16 of 1.0 is 0x3F80, of -2.5 is 0xC020, of 3.140625 is 0x4049.
    short[] bits = {0x3F80, (short) 0xC020, 0x4049};
    ByteBuffer data = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
    for (short b : bits) {
      data.putShort(b);
    }
    Path file =
        writeRaw(
            "{\"x\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", data.array(), 0);
    try (NDManager m = NDManager.newBaseManager();
        SafetensorsFile f = SafetensorsFile.open(file)) {
      NDArray x = f.read("x", m);
      assertEquals(DataType.FLOAT32, x.getDataType());
      assertArrayEquals(new float[] {1f, -2.5f, 3.140625f}, x.toFloatArray());
    }
  }

  /**
   * A tensor beyond the 2 GiB mark of a file is read by offset, not through one byte array. The
   * file is sparse, so the test costs no disk space.
   */
  @Test
  void readsTensorsPastTwoGibibytes() throws IOException {
    long big = 2_300_000_000L;
    String header =
        "{\"filler\":{\"dtype\":\"U8\",\"shape\":["
            + big
            + "],\"data_offsets\":[0,"
            + big
            + "]},"
            + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":["
            + big
            + ","
            + (big + 8)
            + "]}}";
    ByteBuffer tail =
        ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(4.25f).putFloat(-1f);
    Path file = writeRaw(header, tail.array(), big);
    assertTrue(Files.size(file) > (1L << 31));
    try (NDManager m = NDManager.newBaseManager();
        SafetensorsFile f = SafetensorsFile.open(file)) {
      assertArrayEquals(new float[] {4.25f, -1f}, f.read("tail", m).toFloatArray());
    }
  }

  @Test
  void rejectsSizeThatDoesNotMatchShape() throws IOException {
    Path file =
        writeRaw(
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8], 0);
    IOException e = assertThrows(IOException.class, () -> SafetensorsFile.open(file));
    assertTrue(
        e.getMessage().contains("'x'") && e.getMessage().contains("12 bytes"), e.getMessage());
  }

  @Test
  void rejectsTruncatedFile() throws IOException {
    Path file = dir.resolve("short.safetensors");
    Files.write(file, new byte[] {1, 2, 3});
    IOException e = assertThrows(IOException.class, () -> SafetensorsFile.open(file));
    assertTrue(e.getMessage().contains("not a safetensors file"), e.getMessage());
  }

  private Path writeRaw(String header, byte[] data, long dataOffset) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    Path file = Files.createTempFile(dir, "raw", ".safetensors");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ByteBuffer head = ByteBuffer.allocate(8 + h.length).order(ByteOrder.LITTLE_ENDIAN);
      head.putLong(h.length).put(h).flip();
      ch.write(head, 0);
      ch.write(ByteBuffer.wrap(data), 8 + h.length + dataOffset);
    }
    return file;
  }
}
