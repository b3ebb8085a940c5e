package org.perfusionjobs.cli;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * One-line messages for the failures a user causes, each naming the problem and the fix, instead of
 * a bare path or a native stack dump.
 */
final class CliErrors {
  private CliErrors() {}

  /** The message printed after "error: " for an exception a command threw. */
  static String describe(Throwable ex) {
    Throwable root = ex;
    while (root.getCause() != null && root.getCause() != root && !(root instanceof IOException)) {
      root = root.getCause();
    }
    if (root instanceof NoSuchFileException e) {
      return "no such file: " + e.getFile() + " (check the path given to the command's options)";
    }
    if (root instanceof AccessDeniedException e) {
      return "permission denied: " + e.getFile();
    }
    String message = ex.getMessage();
    return message == null || message.isBlank()
        ? ex.getClass().getSimpleName()
        : firstLine(message);
  }

  /** Fails with a message naming the option when {@code file} is not a readable regular file. */
  static void requireFile(String option, Path file, String hint) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(option + " " + file + ": no such file (" + hint + ")");
    }
  }

  /**
   * Fails with a message naming the port and {@code --port} when 127.0.0.1:port cannot be bound; 0
   * (any free port) always passes. Checked before slow start-up work, so a busy port costs nothing.
   */
  static void requireFreePort(int port) {
    if (port == 0) {
      return;
    }
    try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      s.setReuseAddress(true);
    } catch (BindException e) {
      throw new IllegalArgumentException(
          "--port "
              + port
              + ": 127.0.0.1:"
              + port
              + " is already in use; pick another with --port N (0 = any free port)");
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "--port " + port + ": cannot listen on 127.0.0.1:" + port + " (" + e.getMessage() + ")");
    }
  }

  private static String firstLine(String s) {
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
