package org.perfusionjobs.engine.io;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.perfusionjobs.engine.nn.Module;

/**
 * Writes tensors and string metadata in the safetensors format, one tensor at a time, so output of
 * any total size can be written. The file appears atomically (written beside, then moved).
 */
public final class SafetensorsWriter {
  private static final ObjectMapper JSON = new ObjectMapper();

  private SafetensorsWriter() {}

  /** Writes every parameter of a module tree under its checkpoint key, in its current dtype. */
  public static void writeModule(Path path, Module module, Map<String, String> metadata)
      throws IOException {
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    module.namedParameters().forEach((k, p) -> tensors.put(k, p.get()));
    write(path, tensors, metadata);
  }

  /** Tensors are written in map order; {@code metadata} may be empty. */
  public static void write(Path path, Map<String, NDArray> tensors, Map<String, String> metadata)
      throws IOException {
    ObjectNode header = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = header.putObject("__metadata__");
      metadata.forEach(meta::put);
    }
    long offset = 0;
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      NDArray a = e.getValue();
      String dtype = TensorInfo.nameOf(a.getDataType());
      long bytes = a.size() * TensorInfo.elementSize(dtype);
      ObjectNode n = header.putObject(e.getKey());
      n.put("dtype", dtype);
      ArrayNode shape = n.putArray("shape");
      for (long d : a.getShape().getShape()) {
        shape.add(d);
      }
      ArrayNode off = n.putArray("data_offsets");
      off.add(offset);
      off.add(offset + bytes);
      offset += bytes;
    }
    byte[] headerBytes = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    int padded = (headerBytes.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(headerBytes);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    head.flip();
    Path parent = path.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path tmp = Files.createTempFile(parent, path.getFileName().toString(), ".part");
    try (FileChannel ch =
        FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      writeFully(ch, head);
      for (NDArray a : tensors.values()) {
        ByteBuffer data = a.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        writeFully(ch, data);
      }
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }
}
