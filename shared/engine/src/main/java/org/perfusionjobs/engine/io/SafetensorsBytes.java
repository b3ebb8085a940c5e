package org.perfusionjobs.engine.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Safetensors content as bytes (for Kafka records and Redis values), through a temporary file: the
 * reader and writer work on files so that any size streams.
 */
public final class SafetensorsBytes {
  private SafetensorsBytes() {}

  /** Writes through {@code writer} into a temporary file and returns its bytes. */
  public static byte[] write(IoConsumer<Path> writer) throws IOException {
    Path tmp = Files.createTempFile("perfusion", ".safetensors");
    try {
      writer.accept(tmp);
      return Files.readAllBytes(tmp);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Puts {@code bytes} in a temporary file and reads it with {@code reader}. */
  public static <T> T read(byte[] bytes, IoFunction<Path, T> reader) throws IOException {
    Path tmp = Files.createTempFile("perfusion", ".safetensors");
    try {
      Files.write(tmp, bytes);
      return reader.apply(tmp);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** A consumer that may throw IOException. */
  @FunctionalInterface
  public interface IoConsumer<T> {
    void accept(T t) throws IOException;
  }

  /** A function that may throw IOException. */
  @FunctionalInterface
  public interface IoFunction<T, R> {
    R apply(T t) throws IOException;
  }
}
