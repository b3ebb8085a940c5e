package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.contracts.BudgetOverrides;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.testdata.TestData;

/**
 * Issue 19 on a real 4.4 broker and a real redis-server, two workers in one share group: replays
 * and races run once and publish seqs above everything before; any record a Kafka client can send
 * is failed to the right tenant and dead-lettered once without killing an intake; cancels,
 * oversized values and archived records give one outcome each. Jobs longer than the lock: {@link
 * LongJobsTest}; Redis and broker outages: {@link OutageTest}.
 */
class ExactlyOnceTest {
  static final Duration WAIT = Duration.ofSeconds(90);

  /** The shortest record lock the broker allows: jobs of ~20 s need several renewals. */
  static final int LOCK_MS = 15_000;

  static final Topics TOPICS = new Topics("once.");
  static LocalStack stack;
  static Vertx vertx;
  static final Map<String, WorkerVerticle> workers = new LinkedHashMap<>();
  static Producer producer;
  static KafkaProducer<byte[], byte[]> raw;
  static EventLog events;
  static EventLog deadLetters;
  static EventLog brokerDeadLetters;
  static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    stack = LocalStack.start(TOPICS);
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
    vertx = Vertx.vertx();
    Path covariance = Cluster.tinyCovariance(); // computed once, not by every worker at start
    for (String id : List.of("w1", "w2")) {
      WorkerConfig cfg =
          WorkerConfig.local(
                  stack.bootstrapServers(), stack.redisUri(), TOPICS, TestData.sdTinyRef())
              .withCovariance(covariance)
              .withRenewInterval(Duration.ofSeconds(2))
              .withWorkerId(id)
              // The cancel test runs a 150-step job on the tiny model; the default budget is 100
              // steps.
              .withLimits(
                  WorkerConfig.Limits.DEFAULTS.withBudgets(
                      new BudgetOverrides(null, 200, null, null, null)));
      WorkerVerticle w = new WorkerVerticle(cfg);
      vertx.deployVerticle(w).await();
      workers.put(id, w);
    }
    producer = new Producer(stack.bootstrapServers(), TOPICS);
    raw =
        new KafkaProducer<>(
            Map.of(
                "bootstrap.servers",
                stack.bootstrapServers(),
                "acks",
                "all",
                "max.request.size",
                "2000000"),
            new ByteArraySerializer(),
            new ByteArraySerializer());
    events = new EventLog(stack.bootstrapServers(), TOPICS.events());
    deadLetters = new EventLog(stack.bootstrapServers(), TOPICS.deadLetter());
    brokerDeadLetters = new EventLog(stack.bootstrapServers(), TOPICS.brokerDeadLetter());
  }

  @AfterAll
  static void stop() throws Exception {
    System.clearProperty("perfusion.worker.testStepDelayMs");
    if (events != null) {
      events.close();
      deadLetters.close();
      brokerDeadLetters.close();
      producer.close();
      raw.close();
    }
    if (vertx != null) {
      vertx.close().await();
    }
    if (stack != null) {
      stack.close();
    }
  }

  @AfterEach
  void noStepDelay() {
    System.clearProperty("perfusion.worker.testStepDelayMs");
  }

  static void generate(String jobId, int steps) throws Exception {
    producer.request(
        Schemas.GENERATE_REQUEST,
        "{\"jobId\":\""
            + jobId
            + "\",\"tenant\":\"acme\",\"prompt\":\"a toy car\",\"steps\":"
            + steps
            + ",\"seed\":1}");
  }

  static long count(List<JobEvent> all, String state, String kind) {
    return all.stream()
        .filter(e -> state.equals(e.state()) && (kind == null || kind.equals(e.kind())))
        .count();
  }

  static void assertSeqGrows(List<JobEvent> all) {
    for (int i = 1; i < all.size(); i++) {
      assertTrue(
          all.get(i).seq() > all.get(i - 1).seq(), "seq must grow in publish order: " + brief(all));
    }
  }

  static String brief(List<JobEvent> all) {
    return all.stream()
        .map(e -> e.seq() + ":" + e.kind() + "/" + e.state() + "@" + e.worker())
        .toList()
        .toString();
  }

  @Test
  void replaysAndRacesRunOnceAndPublishAboveEverySeq() throws Exception {
    System.setProperty("perfusion.worker.testStepDelayMs", "50");
    // A malformed record with the job's key and a readable tenant, then three copies of the job at
    // once.
    producer.unchecked(
        Schemas.GENERATE_REQUEST,
        "race",
        "{\"jobId\":\"race\",\"tenant\":\"acme\",\"prompt\":\"x\",\"steps\":\"many\"}");
    JobEvent failed = events.awaitTerminal("race", WAIT);
    assertEquals(JobEvent.FAILED, failed.state());
    for (int i = 0; i < 3; i++) {
      generate("race", 40);
    }
    events.await("race", e -> JobEvent.SUCCEEDED.equals(e.state()), WAIT);
    Thread.sleep(3000); // the copies that were queued behind it are handled
    List<JobEvent> before = new ArrayList<>(events.events("race"));
    long maxBefore = before.stream().mapToLong(JobEvent::seq).max().orElseThrow();
    generate("race", 40); // a replay of a finished job
    events.await("race", e -> JobEvent.SUCCEEDED.equals(e.state()) && e.seq() > maxBefore, WAIT);
    Thread.sleep(1000);
    List<JobEvent> all = events.events("race");
    assertEquals(1, count(all, JobEvent.RUNNING, "state"), "ran once: " + brief(all));
    assertTrue(
        all.get(1).seq() > failed.seq(),
        "running after the rejected copy has a higher seq: " + brief(all));
    assertSeqGrows(all);
    List<JobEvent> successes =
        all.stream().filter(e -> JobEvent.SUCCEEDED.equals(e.state())).toList();
    assertTrue(
        successes.stream().allMatch(e -> e.result().equals(successes.get(0).result())),
        "replays republish the stored result: " + brief(all));
    assertEquals(
        1,
        deadLetters.records.stream().filter(r -> "race".equals(key(r))).count(),
        "one dead letter, for the malformed copy only");
  }

  /** One poison case: the record, and what its failed event must say. */
  record Poison(
      String jobId, String tenant, String reasonPart, ProducerRecord<byte[], byte[]> record) {}

  static ProducerRecord<byte[], byte[]> rec(byte[] key, byte[] value, Object... headers) {
    RecordHeaders h = new RecordHeaders();
    for (int i = 0; i < headers.length; i += 2) {
      Object v = headers[i + 1];
      h.add(
          (String) headers[i],
          v == null
              ? null
              : v instanceof byte[] b ? b : ((String) v).getBytes(StandardCharsets.UTF_8));
    }
    return new ProducerRecord<>(TOPICS.generate(), null, key, value, h);
  }

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] body(String jobId) {
    return b("{\"jobId\":\"" + jobId + "\",\"tenant\":\"acme\",\"prompt\":\"x\",\"steps\":1}");
  }

  @Test
  void anyRecordAClientCanSendIsFailedToItsTenantAndDeadLetteredOnce() throws Exception {
    String schema = Headers.SCHEMA;
    String version = Headers.VERSION;
    String gen = Schemas.GENERATE_REQUEST;
    List<Poison> cases =
        List.of(
            new Poison(
                "p-null-version",
                "acme",
                "has no value",
                rec(b("p-null-version"), body("p-null-version"), schema, gen, version, null)),
            new Poison(
                "p-two-versions",
                "acme",
                "appears 2 times",
                rec(
                    b("p-two-versions"),
                    body("p-two-versions"),
                    schema,
                    gen,
                    version,
                    "1",
                    version,
                    "1")),
            new Poison(
                "p-blank-version",
                "acme",
                "is not a version",
                rec(b("p-blank-version"), body("p-blank-version"), schema, gen, version, " 1 ")),
            new Poison(
                "p-zero-version",
                "acme",
                "is not a version",
                rec(b("p-zero-version"), body("p-zero-version"), schema, gen, version, "01")),
            new Poison(
                "p-plus-version",
                "acme",
                "is not a version",
                rec(b("p-plus-version"), body("p-plus-version"), schema, gen, version, "+1")),
            new Poison(
                "p-latin1-version",
                "acme",
                "not UTF-8",
                rec(
                    b("p-latin1-version"),
                    body("p-latin1-version"),
                    schema,
                    gen,
                    version,
                    new byte[] {(byte) 0xff})),
            new Poison(
                "p-no-schema",
                "acme",
                "perfusion-schema is missing",
                rec(b("p-no-schema"), body("p-no-schema"), version, "1")),
            new Poison(
                "p-null-schema",
                "acme",
                "has no value",
                rec(b("p-null-schema"), body("p-null-schema"), schema, null, version, "1")),
            new Poison(
                "p-null-key",
                "acme",
                "record key is missing",
                rec(null, body("p-null-key"), schema, gen, version, "1")),
            new Poison(
                "p-empty-key",
                "acme",
                "record key is empty",
                rec(new byte[0], body("p-empty-key"), schema, gen, version, "1")),
            new Poison(
                "p-latin1-key",
                "acme",
                "not UTF-8",
                rec(
                    new byte[] {(byte) 0xe9, 'x'},
                    body("p-latin1-key"),
                    schema,
                    gen,
                    version,
                    "1")),
            new Poison(
                "p-garbage",
                "unknown",
                "malformed JSON",
                rec(b("p-garbage"), new byte[] {0, 1, 2, (byte) 0xff}, schema, gen, version, "1")),
            new Poison(
                "p-null-value",
                "unknown",
                "empty record value",
                rec(b("p-null-value"), null, schema, gen, version, "1")));
    Map<Long, Poison> byOffset = new LinkedHashMap<>();
    for (Poison p : cases) {
      byOffset.put(raw.send(p.record()).get(30, TimeUnit.SECONDS).offset(), p);
    }
    generate("after-poison", 2);
    assertEquals(
        JobEvent.SUCCEEDED,
        events.awaitTerminal("after-poison", WAIT).state(),
        "a valid job behind the poison runs");
    for (Poison p : cases) {
      JobEvent e = events.awaitTerminal(p.jobId(), WAIT);
      assertEquals(JobEvent.FAILED, e.state(), p.jobId());
      assertEquals(p.tenant(), e.tenant(), p.jobId());
      assertTrue(
          e.error().reason().contains(p.reasonPart()), p.jobId() + ": " + e.error().reason());
    }
    Thread.sleep(2000); // room for a second copy to show up
    List<ConsumerRecord<byte[], byte[]>> dls = readAll(TOPICS.deadLetter(), byOffset.size());
    for (Map.Entry<Long, Poison> c : byOffset.entrySet()) {
      String jobId = c.getValue().jobId();
      List<ConsumerRecord<byte[], byte[]>> dl =
          dls.stream().filter(r -> c.getKey().equals(originalOffset(r))).toList();
      assertEquals(1, dl.size(), jobId + " dead-lettered once by the worker");
      ProducerRecord<byte[], byte[]> sent = c.getValue().record();
      assertTrue(Arrays.equals(sent.key(), dl.get(0).key()), jobId + ": key copied byte for byte");
      assertTrue(
          Arrays.equals(sent.value(), dl.get(0).value()), jobId + ": value copied byte for byte");
      assertEquals(
          1,
          events.events(jobId).stream().filter(JobEvent::terminal).count(),
          jobId + ": one failed event");
    }
    assertEquals(
        0,
        brokerDeadLetters.records.stream()
            .filter(r -> r.key() != null && r.key().startsWith("p-"))
            .count(),
        "records the worker dead-lettered are accepted, not also archived into the broker's"
            + " dead-letter topic");
    for (WorkerVerticle w : workers.values()) {
      assertEquals(200, ready(w).statusCode(), "intakes alive");
    }
  }

  @Test
  void aCancelGivesOneCancelledEventEchoingItsReason() throws Exception {
    System.setProperty("perfusion.worker.testStepDelayMs", "100");
    generate("to-stop", 150);
    events.await("to-stop", e -> "progress".equals(e.kind()), WAIT);
    producer.request(
        Schemas.CANCEL_REQUEST,
        "{\"jobId\":\"to-stop\",\"tenant\":\"acme\",\"reason\":\"user pressed stop\"}");
    JobEvent end = events.awaitTerminal("to-stop", WAIT);
    assertEquals(JobEvent.CANCELLED, end.state(), String.valueOf(end));
    assertEquals("user pressed stop", end.error().reason());
    Thread.sleep(3000); // room for a second cancelled event
    List<JobEvent> all = events.events("to-stop");
    assertEquals(1, count(all, JobEvent.CANCELLED, null), brief(all));
    assertSeqGrows(all);
  }

  @Test
  void aValueTooLargeToCopyIsDeadLetteredByReference() throws Exception {
    // Fits the broker's 1 MB record limit as sent, but not once the provenance headers are added.
    byte[] value = new byte[1_048_350];
    Arrays.fill(value, (byte) ' ');
    long offset =
        raw.send(
                rec(
                    b("p-huge"),
                    value,
                    Headers.SCHEMA,
                    Schemas.GENERATE_REQUEST,
                    Headers.VERSION,
                    "1"))
            .get(30, TimeUnit.SECONDS)
            .offset();
    JobEvent e = events.awaitTerminal("p-huge", WAIT);
    assertEquals(JobEvent.FAILED, e.state());
    assertTrue(e.error().reason().contains("exceeds the limit"), e.error().reason());
    List<ConsumerRecord<byte[], byte[]>> dl =
        readAll(TOPICS.deadLetter(), 1).stream()
            .filter(r -> Long.valueOf(offset).equals(originalOffset(r)))
            .toList();
    assertEquals(1, dl.size(), "one dead letter");
    assertEquals(null, dl.get(0).value(), "by reference: no value");
    assertNotNull(dl.get(0).headers().lastHeader(Headers.DLQ_VALUE_OMITTED));
    assertTrue(
        new String(
                dl.get(0).headers().lastHeader(Headers.DLQ_VALUE_OMITTED).value(),
                StandardCharsets.UTF_8)
            .startsWith("1048350 bytes"));
  }

  @Test
  void aRecordTheBrokerArchivedGetsOneFailedEventUnlessItsJobSucceeded() throws Exception {
    // What the broker writes to its dead-letter topic after the delivery limit: the record, copied.
    generate("archived-done", 1);
    assertEquals(JobEvent.SUCCEEDED, events.awaitTerminal("archived-done", WAIT).state());
    for (String id : List.of("archived-done", "archived-lost")) {
      raw.send(new ProducerRecord<>(TOPICS.brokerDeadLetter(), b(id), body(id)))
          .get(30, TimeUnit.SECONDS);
    }
    JobEvent lost = events.awaitTerminal("archived-lost", WAIT);
    assertEquals(JobEvent.FAILED, lost.state());
    assertEquals("acme", lost.tenant());
    assertTrue(lost.error().reason().contains("archived by the broker"), lost.error().reason());
    Thread.sleep(3000); // room for a wrong report of the job that succeeded, or a second one
    assertEquals(1, events.events("archived-lost").size(), brief(events.events("archived-lost")));
    assertTrue(
        events.events("archived-done").stream().noneMatch(e -> JobEvent.FAILED.equals(e.state())),
        brief(events.events("archived-done")));
  }

  @Test
  void aRecordThatKillsEveryIntakeIsArchivedAndReportedWhileTheIntakesRestart() throws Exception {
    System.setProperty("perfusion.worker.testCrashOnKey", "crasher");
    try {
      generate("crasher", 1);
      // Each delivery kills the intake that takes it; the supervisor restarts it, the record comes
      // back with a higher delivery count, and after the limit (5) the broker archives it.
      JobEvent failed = events.awaitTerminal("crasher", Duration.ofSeconds(100));
      assertEquals(JobEvent.FAILED, failed.state());
      assertTrue(
          failed.error().reason().contains("archived by the broker"), failed.error().reason());
    } finally {
      System.clearProperty("perfusion.worker.testCrashOnKey");
    }
    generate("after-crashes", 1);
    assertEquals(
        JobEvent.SUCCEEDED,
        events.awaitTerminal("after-crashes", WAIT).state(),
        "the restarted intakes take jobs again");
    int restarts = 0;
    for (WorkerVerticle w : workers.values()) {
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (ready(w).statusCode() != 200 && System.nanoTime() < deadline) {
        Thread.sleep(200);
      }
      HttpResponse<String> r = ready(w);
      assertEquals(200, r.statusCode(), r.body());
      restarts += Integer.parseInt(r.body().replaceAll(".*intake restarts (\\d+).*", "$1"));
    }
    assertTrue(restarts >= 5, "one restart per delivery, 5 deliveries: " + restarts);
    assertEquals(1, events.events("crasher").size(), brief(events.events("crasher")));
    System.out.println("intake restarts for the crashing record: " + restarts);
  }

  static HttpResponse<String> ready(WorkerVerticle w) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + w.httpPort() + "/health/ready"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static String key(ConsumerRecord<String, byte[]> r) {
    return r.key();
  }

  /**
   * Every record of a topic, raw bytes (keys that are not UTF-8 included), once at least {@code
   * atLeast} arrived or 30 s passed.
   */
  static List<ConsumerRecord<byte[], byte[]>> readAll(String topic, int atLeast) {
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> c =
        new KafkaConsumer<>(
            Map.of(
                "bootstrap.servers",
                stack.bootstrapServers(),
                "group.id",
                "raw-" + UUID.randomUUID(),
                "auto.offset.reset",
                "earliest"),
            new ByteArrayDeserializer(),
            new ByteArrayDeserializer())) {
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + 30_000_000_000L;
      long quietUntil = 0;
      while (System.nanoTime() < deadline
          && (out.size() < atLeast || System.nanoTime() < quietUntil)) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
          out.add(r);
          quietUntil = System.nanoTime() + 1_000_000_000L; // keep reading while records still come
        }
      }
    }
    return out;
  }

  static Long originalOffset(ConsumerRecord<?, byte[]> r) {
    var h = r.headers().lastHeader(Headers.DLQ_OFFSET);
    return h == null ? null : Long.parseLong(new String(h.value(), StandardCharsets.UTF_8));
  }
}
