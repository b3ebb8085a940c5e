package org.perfusionjobs.engine.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A safetensors file read tensor by tensor with positional reads, so files of any size load (DJL's
 * own reader holds the whole file in one byte array and stops at 2 GiB). Only the header is read on
 * open; each {@link #read} copies one tensor into native memory owned by the given manager.
 */
public final class SafetensorsFile implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MAX_HEADER = 100L * 1024 * 1024;

  private final Path path;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, TensorInfo> tensors;
  private final Map<String, String> metadata;

  private SafetensorsFile(
      Path path,
      FileChannel channel,
      long dataStart,
      Map<String, TensorInfo> tensors,
      Map<String, String> metadata) {
    this.path = path;
    this.channel = channel;
    this.dataStart = dataStart;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /** Opens and validates the header: offsets contiguous, sizes matching shapes, inside the file. */
  public static SafetensorsFile open(Path path) throws IOException {
    FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
    try {
      long size = ch.size();
      if (size < 8) {
        throw new IOException(path + ": not a safetensors file (" + size + " bytes)");
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, lenBuf, 0);
      long headerLen = lenBuf.flip().getLong();
      if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
        throw new IOException(path + ": invalid safetensors header length " + headerLen);
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLen);
      readFully(ch, header, 8);
      JsonNode root = JSON.readTree(new String(header.array(), StandardCharsets.UTF_8));
      long dataStart = 8 + headerLen;
      long dataLen = size - dataStart;
      Map<String, TensorInfo> infos = new LinkedHashMap<>();
      Map<String, String> meta = new LinkedHashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().equals("__metadata__")) {
          e.getValue().fields().forEachRemaining(m -> meta.put(m.getKey(), m.getValue().asText()));
          continue;
        }
        JsonNode n = e.getValue();
        String dtype = n.path("dtype").asText();
        long[] dims = new long[n.path("shape").size()];
        for (int i = 0; i < dims.length; i++) {
          dims[i] = n.path("shape").get(i).asLong();
        }
        long begin = n.path("data_offsets").path(0).asLong(-1);
        long end = n.path("data_offsets").path(1).asLong(-1);
        TensorInfo info = new TensorInfo(e.getKey(), dtype, new Shape(dims), begin, end);
        long expected = info.shape().size() * TensorInfo.elementSize(dtype);
        if (begin < 0 || end < begin || end > dataLen || end - begin != expected) {
          throw new IOException(
              path
                  + ": tensor '"
                  + e.getKey()
                  + "' has offsets ["
                  + begin
                  + ", "
                  + end
                  + ") but "
                  + dtype
                  + " "
                  + info.shape()
                  + " needs "
                  + expected
                  + " bytes within "
                  + dataLen);
        }
        infos.put(e.getKey(), info);
      }
      return new SafetensorsFile(
          path,
          ch,
          dataStart,
          Collections.unmodifiableMap(infos),
          Collections.unmodifiableMap(meta));
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  public Path path() {
    return path;
  }

  public Map<String, TensorInfo> tensors() {
    return tensors;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  public TensorInfo info(String name) {
    TensorInfo info = tensors.get(name);
    if (info == null) {
      throw new IllegalArgumentException(path + " has no tensor '" + name + "'");
    }
    return info;
  }

  /** Reads one tensor into {@code manager}; BF16 is widened to FLOAT32 bit-exactly. */
  public NDArray read(String name, NDManager manager) throws IOException {
    TensorInfo info = info(name);
    long len = info.byteLength();
    if (len > Integer.MAX_VALUE - 16) {
      throw new IOException(
          path
              + ": tensor '"
              + name
              + "' is "
              + len
              + " bytes, over the 2 GiB a single tensor may have");
    }
    ByteBuffer buf = ByteBuffer.allocateDirect((int) len).order(ByteOrder.LITTLE_ENDIAN);
    readFully(channel, buf, dataStart + info.begin());
    buf.flip();
    if (info.dtype().equals("BF16")) {
      buf = widenBf16(buf);
    }
    NDArray arr = manager.create(buf, info.shape(), info.readType());
    arr.setName(name);
    return arr;
  }

  /** Reads one tensor and converts it to {@code dtype}. */
  public NDArray read(String name, NDManager manager, DataType dtype) throws IOException {
    NDArray raw = read(name, manager);
    if (raw.getDataType() == dtype) {
      return raw;
    }
    NDArray converted = raw.toType(dtype, false);
    raw.close();
    converted.setName(name);
    return converted;
  }

  /** Reads every tensor (for small files such as reference data). */
  public Map<String, NDArray> readAll(NDManager manager) throws IOException {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (String name : tensors.keySet()) {
      out.put(name, read(name, manager));
    }
    return out;
  }

  private static ByteBuffer widenBf16(ByteBuffer src) {
    ByteBuffer dst = ByteBuffer.allocateDirect(src.remaining() * 2).order(ByteOrder.LITTLE_ENDIAN);
    while (src.remaining() >= 2) {
      int bits = src.getShort() & 0xffff;
      dst.putInt(bits << 16);
    }
    return dst.flip();
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    long pos = position;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new IOException("unexpected end of file at byte " + pos);
      }
      pos += n;
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
