package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.testdata.TestData;

/**
 * Two worker processes in one share group: a long job on one does not delay a short job behind it,
 * and killing the process that runs a job (kill -9) makes the other finish it, once.
 */
class TwoWorkersTest {
  static final Duration WAIT = Duration.ofSeconds(120);
  static LocalStack stack;
  static final Topics TOPICS = new Topics("two.");
  static final Map<String, Process> workers = new HashMap<>();
  static final Map<String, Integer> ports = new HashMap<>();
  static Producer producer;
  static EventLog events;

  @BeforeAll
  static void start() throws Exception {
    stack = LocalStack.start(TOPICS);
    startWorker("w1");
    startWorker("w2");
    for (String w : List.of("w1", "w2")) {
      awaitReady(w);
    }
    producer = new Producer(stack.bootstrapServers(), TOPICS);
    events = new EventLog(stack.bootstrapServers(), TOPICS.events());
  }

  @AfterAll
  static void stop() throws Exception {
    workers.values().forEach(p -> p.destroyForcibly());
    if (events != null) {
      events.close();
      producer.close();
    }
    if (stack != null) {
      stack.close();
    }
  }

  static void startWorker(String id) throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Path model = TestData.sdTinyRef();
    ProcessBuilder pb =
        new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx1g",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            System.getProperty("java.class.path"),
            WorkerMain.class.getName());
    Map<String, String> env = pb.environment();
    env.put("DJL_OFFLINE", "true");
    env.put("PERFUSION_KAFKA", stack.bootstrapServers());
    env.put("PERFUSION_REDIS", stack.redisUri());
    env.put("PERFUSION_MODEL", model.toString());
    env.put("PERFUSION_TOPIC_PREFIX", TOPICS.prefix());
    env.put("PERFUSION_WORKER_ID", id);
    env.put("PERFUSION_WORKER_HTTP_PORT", Integer.toString(port));
    env.put("PERFUSION_RENEW_INTERVAL_MS", "1000");
    env.put("PERFUSION_CHECKPOINT_EVERY", "5");
    env.put(
        "PERFUSION_MAX_GENERATE_STEPS",
        "200"); // long jobs on the tiny model (the default budget is 100 steps)
    env.put(
        "PERFUSION_MAX_BATCH",
        "1"); // one job at a time per worker: the idle worker must take the short job
    env.put(
        "PERFUSION_COVARIANCE",
        Cluster.tinyCovariance().toString()); // computed once, not by every worker at start
    pb.redirectErrorStream(true)
        .redirectOutput(Path.of("target", "worker-" + id + ".log").toFile());
    workers.put(id, pb.start());
    ports.put(id, port);
  }

  static void awaitReady(String id) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      assertTrue(
          workers.get(id).isAlive(), "worker " + id + " died; see target/worker-" + id + ".log");
      try {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + ports.get(id) + "/health/ready"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(200);
    }
    throw new AssertionError("worker " + id + " not ready");
  }

  static String brief(String jobId) {
    return events.events(jobId).stream()
        .map(
            e ->
                e.seq()
                    + ":"
                    + e.kind()
                    + "/"
                    + e.state()
                    + "@"
                    + e.worker()
                    + "@"
                    + e.time().substring(11, 23))
        .toList()
        .toString();
  }

  static void generate(String jobId, int steps) throws Exception {
    producer.request(
        Schemas.GENERATE_REQUEST,
        "{\"jobId\":\""
            + jobId
            + "\",\"tenant\":\"acme\",\"prompt\":\"a toy car\",\"steps\":"
            + steps
            + ",\"width\":64,\"height\":64}");
  }

  @Test
  void aLongJobDoesNotDelayAShortOneAndACrashedWorkersJobFinishesOnce() throws Exception {
    // Part 1: head-of-line blocking. Warm up in pairs until each worker has served a job, so
    // neither
    // is still joining the share group: one fetch can hand a whole pair to the first worker (seen
    // in
    // CI). Bounded: 10 pairs.
    Set<String> served = new HashSet<>();
    for (int pair = 0; served.size() < 2; pair++) {
      assertTrue(
          pair < 10,
          "both workers should serve a warm-up job within 10 pairs, served by " + served);
      generate("warm-" + (2 * pair + 1), 1);
      generate("warm-" + (2 * pair + 2), 1);
      served.add(events.awaitTerminal("warm-" + (2 * pair + 1), WAIT).worker());
      served.add(events.awaitTerminal("warm-" + (2 * pair + 2), WAIT).worker());
    }
    generate("long", 150);
    JobEvent longRunning = events.await("long", e -> "progress".equals(e.kind()), WAIT);
    generate("short", 2);
    JobEvent shortDone = events.awaitTerminal("short", WAIT);
    assertEquals(JobEvent.SUCCEEDED, shortDone.state());
    assertNotEquals(
        longRunning.worker(),
        shortDone.worker(),
        "the idle worker takes the short job: "
            + brief("short")
            + " warm "
            + brief("warm-1")
            + brief("warm-2")
            + " long "
            + brief("long"));
    assertTrue(
        events.events("long").stream().noneMatch(JobEvent::terminal),
        "short job finished while the long one still runs");

    // Part 2: kill -9 the worker running the long job; the other one finishes it.
    Process victim = workers.get(longRunning.worker());
    victim.destroyForcibly().waitFor();
    JobEvent done = events.awaitTerminal("long", WAIT);
    assertEquals(JobEvent.SUCCEEDED, done.state(), String.valueOf(done));
    assertNotEquals(longRunning.worker(), done.worker());
    Thread.sleep(2000); // room for any duplicate result to show up
    List<JobEvent> all = new ArrayList<>(events.events("long"));
    assertEquals(
        1,
        all.stream().filter(e -> JobEvent.SUCCEEDED.equals(e.state())).count(),
        "exactly one succeeded: " + all);
    assertTrue(done.seq() > longRunning.seq(), "seq keeps growing across the redelivery");

    // The survivor's metrics count its jobs.
    String survivor = done.worker();
    HttpResponse<String> m =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + ports.get(survivor) + "/metrics"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertTrue(
        m.body().contains("perfusion_jobs_total{type=\"generate\",state=\"succeeded\"}"), m.body());
    assertTrue(m.body().contains("perfusion_model_thread_utilisation"), m.body());

    // Part 3: a training job killed half way resumes from its last checkpoint on the other worker.
    startWorker(longRunning.worker());
    awaitReady(longRunning.worker());
    String images = "[{\"base64\":\"" + WorkerEndToEndTest.squarePng() + "\"}]";
    producer.request(
        Schemas.TRAIN_REQUEST,
        "{\"jobId\":\"train-resume\",\"tenant\":\"acme\",\"conceptName\":\"zwx\","
            + "\"superclass\":\"car\",\"images\":"
            + images
            + ",\"steps\":60,\"options\":{\"batchSize\":2,\"gradientAccumulation\":2}}");
    JobEvent halfway =
        events.await("train-resume", e -> "progress".equals(e.kind()) && e.step() >= 12, WAIT);
    workers.get(halfway.worker()).destroyForcibly().waitFor();
    JobEvent trained = events.awaitTerminal("train-resume", WAIT);
    assertEquals(JobEvent.SUCCEEDED, trained.state(), String.valueOf(trained));
    JobEvent firstAfter =
        events.events("train-resume").stream()
            .filter(e -> "progress".equals(e.kind()) && !halfway.worker().equals(e.worker()))
            .findFirst()
            .orElseThrow();
    assertTrue(
        firstAfter.step() > 5,
        "resumed from a checkpoint, not from step 1: first step on the new worker "
            + firstAfter.step());
  }
}
