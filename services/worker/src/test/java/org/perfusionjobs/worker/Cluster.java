package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;
import org.perfusionjobs.contracts.BudgetOverrides;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.testdata.TestData;

/**
 * A local stack (real broker, real redis-server) with in-process workers on the tiny model, a
 * record lock of 15 s (the broker's minimum) renewed every 2 s, and readers of the events and
 * dead-letter topics: the fixture of the outage and long-job tests (issue 19).
 */
final class Cluster implements AutoCloseable {
  static final int LOCK_MS = 15_000;
  final Topics topics;
  final LocalStack stack;
  final Vertx vertx = Vertx.vertx();
  final Map<String, WorkerVerticle> workers = new LinkedHashMap<>();
  final Producer producer;
  final EventLog events;
  final EventLog deadLetters;
  private final HttpClient http = HttpClient.newHttpClient();

  Cluster(String prefix) throws Exception {
    topics = new Topics(prefix);
    stack = LocalStack.start(topics);
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", stack.bootstrapServers()))) {
      for (String kind : List.of("train", "generate")) {
        admin
            .incrementalAlterConfigs(
                Map.of(
                    new ConfigResource(
                        ConfigResource.Type.GROUP, LocalStack.WORKER_GROUP + "-" + kind),
                    List.of(
                        new AlterConfigOp(
                            new ConfigEntry(
                                "share.record.lock.duration.ms", Integer.toString(LOCK_MS)),
                            AlterConfigOp.OpType.SET))))
            .all()
            .get(30, TimeUnit.SECONDS);
      }
    }
    producer = new Producer(stack.bootstrapServers(), topics);
    events = new EventLog(stack.bootstrapServers(), topics.events());
    deadLetters = new EventLog(stack.bootstrapServers(), topics.deadLetter());
  }

  private static Path covariance;

  /**
   * The tiny model's Perfusion covariance from its caption file, computed once per test JVM: every
   * worker computing it at start took over a minute each on the loaded 2-core machine.
   */
  static synchronized Path tinyCovariance() throws java.io.IOException {
    if (covariance == null) {
      Path file = java.nio.file.Files.createTempFile("tiny-covariance", ".safetensors");
      file.toFile().deleteOnExit();
      Path captions = Path.of("../../config/captions/sd-tiny-ref.txt").toAbsolutePath();
      try (var sd =
          org.perfusionjobs.engine.pipeline.StableDiffusionPipeline.load(
              TestData.sdTinyRef(), org.perfusionjobs.engine.pipeline.EngineOptions.cpu())) {
        org.perfusionjobs.engine.perfusion.CovarianceBuilder.compute(
                sd,
                org.perfusionjobs.engine.perfusion.CovarianceBuilder.readCaptions(captions),
                false,
                captions.getFileName().toString(),
                n -> {})
            .save(file);
      }
      covariance = file;
    }
    return covariance;
  }

  /** Starts a worker (renewal every 2 s, up to 200 generate steps). */
  WorkerVerticle start(String id, java.util.function.UnaryOperator<WorkerConfig> tune)
      throws java.io.IOException {
    WorkerConfig cfg =
        WorkerConfig.local(stack.bootstrapServers(), stack.redisUri(), topics, TestData.sdTinyRef())
            .withCovariance(tinyCovariance())
            .withRenewInterval(Duration.ofSeconds(2))
            .withWorkerId(id)
            .withLimits(
                WorkerConfig.Limits.DEFAULTS.withBudgets(
                    new BudgetOverrides(null, 200, null, null, null)));
    WorkerVerticle w = new WorkerVerticle(tune.apply(cfg));
    vertx.deployVerticle(w).await();
    workers.put(id, w);
    return w;
  }

  /**
   * A generation of 32 x 32 pixels: the engine's part of a step stays small beside the test's step
   * delay.
   */
  void generate(String jobId, int steps) throws Exception {
    producer.request(
        Schemas.GENERATE_REQUEST,
        "{\"jobId\":\""
            + jobId
            + "\",\"tenant\":\"acme\",\"prompt\":\"a toy car\",\"steps\":"
            + steps
            + ",\"seed\":1,\"width\":32,\"height\":32}");
  }

  HttpResponse<String> ready(String worker) throws Exception {
    return http.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + workers.get(worker).httpPort() + "/health/ready"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static String brief(List<JobEvent> all) {
    return all.stream()
        .map(e -> e.seq() + ":" + e.kind() + "/" + e.state() + "@" + e.worker())
        .toList()
        .toString();
  }

  static long count(List<JobEvent> all, String state, String kind) {
    return all.stream()
        .filter(e -> state.equals(e.state()) && (kind == null || kind.equals(e.kind())))
        .count();
  }

  /**
   * The job ran once on one worker and nothing it published was lost: one {@code running}, one
   * {@code succeeded}, every event from the same worker, and the seqs (in the topic's order)
   * exactly {@code base+1, base+2, ...} of one epoch: no gap (a lost event), no repeat, no second
   * run.
   */
  void assertRanOnceAndLostNothing(String jobId) {
    List<JobEvent> all = events.events(jobId);
    assertEquals(1, count(all, JobEvent.SUCCEEDED, null), jobId + " succeeded once: " + brief(all));
    assertEquals(1, count(all, JobEvent.RUNNING, "state"), jobId + " ran once: " + brief(all));
    assertEquals(
        1,
        all.stream().map(JobEvent::worker).distinct().count(),
        jobId + " ran on one worker: " + brief(all));
    assertEquals(
        JobEvent.RUNNING, all.get(0).state(), jobId + " starts with running: " + brief(all));
    assertTrue(all.get(all.size() - 1).terminal(), jobId + " ends with its outcome: " + brief(all));
    long base = all.get(0).seq() - 1;
    assertEquals(
        0, base % JobClaims.SEQ_PER_EPOCH, jobId + ": first seq opens an epoch: " + brief(all));
    for (int i = 0; i < all.size(); i++) {
      assertEquals(
          base + 1 + i,
          all.get(i).seq(),
          jobId + ": seqs consecutive, none lost or repeated: " + brief(all));
    }
  }

  /** The job's seqs grow strictly in the topic's order. */
  void assertSeqGrows(String jobId) {
    List<JobEvent> all = events.events(jobId);
    for (int i = 1; i < all.size(); i++) {
      assertTrue(
          all.get(i).seq() > all.get(i - 1).seq(),
          jobId + ": seq must grow in publish order: " + brief(all));
    }
  }

  long deadLettersOf(String jobId) {
    return deadLetters.records.stream().filter(r -> jobId.equals(r.key())).count();
  }

  @Override
  public void close() throws Exception {
    System.clearProperty("perfusion.worker.testStepDelayMs");
    events.close();
    deadLetters.close();
    producer.close();
    vertx.close().await();
    stack.close();
  }
}
