package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.testdata.TestData;

/**
 * Worker processes on the tiny reference model against one local stack, for tests that kill a
 * worker (kill -9 needs a process of its own). Logs go to {@code target/worker-<id>.log}.
 */
final class WorkerProcesses implements AutoCloseable {
  private final LocalStack stack;
  private final Topics topics;
  private final Map<String, Process> processes = new HashMap<>();
  private final Map<String, Integer> ports = new HashMap<>();
  private final HttpClient http = HttpClient.newHttpClient();

  WorkerProcesses(LocalStack stack, Topics topics) {
    this.stack = stack;
    this.topics = topics;
  }

  /**
   * Starts worker {@code id} with the given settings on top of the test defaults.
   *
   * @param jvmProperties system properties (test hooks such as {@code
   *     perfusion.worker.testStepDelayMs})
   */
  void start(String id, Map<String, String> settings, Map<String, String> jvmProperties)
      throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"));
    jvmProperties.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), WorkerMain.class.getName()));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    Map<String, String> env = pb.environment();
    env.put("DJL_OFFLINE", "true");
    env.put("PERFUSION_KAFKA", stack.bootstrapServers());
    env.put("PERFUSION_REDIS", stack.redisUri());
    env.put("PERFUSION_MODEL", TestData.sdTinyRef().toString());
    env.put("PERFUSION_TOPIC_PREFIX", topics.prefix());
    env.put("PERFUSION_WORKER_ID", id);
    env.put("PERFUSION_WORKER_HTTP_PORT", Integer.toString(port));
    env.put("PERFUSION_RENEW_INTERVAL_MS", "1000");
    env.put("PERFUSION_CHECKPOINT_EVERY", "5");
    env.put(
        "PERFUSION_COVARIANCE",
        Cluster.tinyCovariance().toString()); // computed once, not by every worker at start
    env.putAll(settings);
    pb.redirectErrorStream(true)
        .redirectOutput(Path.of("target", "worker-" + id + ".log").toFile());
    processes.put(id, pb.start());
    ports.put(id, port);
  }

  void awaitReady(String id, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      assertTrue(
          processes.get(id).isAlive(), "worker " + id + " died; see target/worker-" + id + ".log");
      try {
        if (get(id, "/health/ready").statusCode() == 200) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(200);
    }
    throw new AssertionError("worker " + id + " not ready within " + timeout);
  }

  /** kill -9: the process gets no chance to release or acknowledge anything. */
  void kill(String id) throws InterruptedException {
    processes.get(id).destroyForcibly().waitFor();
  }

  /** A value of the worker's Prometheus metrics, e.g. {@code perfusion_batch_unet_calls_total}. */
  double metric(String id, String name) throws Exception {
    for (String line : get(id, "/metrics").body().split("\n")) {
      if (line.startsWith(name + " ")) {
        return Double.parseDouble(line.substring(name.length() + 1).strip());
      }
    }
    throw new AssertionError("no metric " + name + " on worker " + id);
  }

  private HttpResponse<String> get(String id, String path)
      throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports.get(id) + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Override
  public void close() {
    processes.values().forEach(Process::destroyForcibly);
  }
}
