package org.perfusionjobs.infra;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A real redis-server (Debian package {@code redis-server}) on 127.0.0.1, without persistence.
 * {@link #restart()} stops it and starts an empty one on the same port, as a crashed and recovered
 * cache would be. Set {@code PERFUSION_REDIS_SERVER} to use another binary.
 *
 * <p>Memory is capped ({@code maxmemory}, default 256mb, {@code PERFUSION_REDIS_MAXMEMORY} to
 * change) with {@code allkeys-lru} eviction: Redis is a cache here (docs/decisions.md item 3), so a
 * flood of blobs evicts old entries instead of exhausting the machine.
 */
public final class RedisServer implements AutoCloseable {
  /** The local server's memory cap, in redis-server's notation. */
  public static final String MAX_MEMORY =
      System.getenv().getOrDefault("PERFUSION_REDIS_MAXMEMORY", "256mb");

  private final String binary;
  private final int port;
  private final Path dir;
  private final List<String> extraArgs;
  private Process process;
  private boolean stopped; // by stop(), on purpose

  private RedisServer(String binary, int port, Path dir, List<String> extraArgs) {
    this.extraArgs = List.copyOf(extraArgs);
    this.binary = binary;
    this.port = port;
    this.dir = dir;
  }

  public static RedisServer start() throws IOException {
    return start(0);
  }

  /** As {@link #start()}, on {@code port} (0: a free one). */
  public static RedisServer start(int port) throws IOException {
    return start(port, List.of());
  }

  /**
   * As {@link #start(int)}, with more redis-server arguments ({@code --requirepass}, {@code
   * --tls-port}...: tests of the services' Redis credentials and TLS).
   */
  public static RedisServer start(int port, List<String> extraArgs) throws IOException {
    String binary = System.getenv().getOrDefault("PERFUSION_REDIS_SERVER", "redis-server");
    RedisServer r =
        new RedisServer(
            binary,
            port > 0 ? port : FreePorts.next(),
            Files.createTempDirectory("perfusion-redis"),
            extraArgs);
    r.launch();
    return r;
  }

  private void launch() throws IOException {
    stopped = false;
    Path log = dir.resolve("redis.log");
    try {
      List<String> cmd =
          new java.util.ArrayList<>(
              List.of(
                  binary,
                  "--port",
                  Integer.toString(port),
                  "--bind",
                  "127.0.0.1",
                  "--save",
                  "",
                  "--appendonly",
                  "no",
                  "--dir",
                  dir.toString(),
                  "--maxmemory",
                  MAX_MEMORY,
                  "--maxmemory-policy",
                  "allkeys-lru"));
      cmd.addAll(extraArgs);
      process =
          new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    } catch (IOException e) {
      throw new IOException(
          "cannot start '"
              + binary
              + "' (install the redis-server package: apt-get install -y redis-server): "
              + e.getMessage(),
          e);
    }
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException(
            "redis-server exited with "
                + process.exitValue()
                + ":\n"
                + ChildProcesses.tail(log, 20));
      }
      if (ping()) {
        return;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
    }
    throw new IOException(
        "redis-server not answering PING after 10 s:\n" + ChildProcesses.tail(log, 20));
  }

  /** Whether the server answers PING right now. */
  public boolean ping() {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(500);
      OutputStream out = s.getOutputStream();
      out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[7];
      int n = in.read(buf);
      String answer = n < 1 ? "" : new String(buf, 0, n, StandardCharsets.US_ASCII);
      // A server with a password answers NOAUTH: it is up all the same.
      return answer.startsWith("+PONG") || answer.startsWith("-NOAUTH");
    } catch (IOException e) {
      return false;
    }
  }

  public String uri() {
    return "redis://127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  /** Stops the server (its data is lost) and starts a new one on the same port. */
  public void restart() throws IOException {
    ChildProcesses.stop(process, 5);
    launch();
  }

  /** Stops the server without starting it again (for outage tests). */
  public void stop() {
    ChildProcesses.stop(process, 5);
    stopped = true;
  }

  public void startAgain() throws IOException {
    launch();
  }

  @Override
  public void close() {
    if (!stopped
        && !process.isAlive()) { // it died under a test: say why, or the test's failure is a riddle
      System.err.printf(
          "redis-server on port %d had exited (code %d) before close; its log:%n%s%n",
          port, process.exitValue(), ChildProcesses.tail(dir.resolve("redis.log"), 20));
    }
    ChildProcesses.stop(process, 5);
    ChildProcesses.deleteTree(dir);
  }
}
