package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.vertx.core.Vertx;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.contracts.BudgetOverrides;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.testdata.TestData;

/**
 * A real broker, a real redis-server and one worker verticle on the tiny model: requests produced
 * straight to Kafka come back as events, images in Redis, concepts in the registry; bad input is
 * failed and dead-lettered while valid jobs go on; duplicates run once; cancel stops a job; a Redis
 * restart loses no result.
 */
class WorkerEndToEndTest {
  static final Duration WAIT = Duration.ofSeconds(90);
  static LocalStack stack;
  static Vertx vertx;
  static WorkerVerticle worker;
  static Producer producer;
  static EventLog events;
  static EventLog deadLetters;
  static Topics topics;

  @BeforeAll
  static void start() throws Exception {
    topics = new Topics("e2e.");
    stack = LocalStack.start(topics);
    Path model = TestData.sdTinyRef();
    Path captions = Path.of("../../config/captions/sd-tiny-ref.txt").toAbsolutePath();
    WorkerConfig cfg =
        WorkerConfig.local(stack.bootstrapServers(), stack.redisUri(), topics, model)
            .withCaptions(captions)
            .withRenewInterval(Duration.ofSeconds(2))
            .withUrlAllowList(List.of("http://127.0.0.1:1/allowed/"))
            // Long jobs (150-200 steps) on the tiny model for cancel and restart; the default
            // budget is 100 steps.
            .withLimits(
                WorkerConfig.Limits.DEFAULTS.withBudgets(
                    new BudgetOverrides(null, 200, null, null, null)));
    vertx = Vertx.vertx();
    worker = new WorkerVerticle(cfg);
    vertx.deployVerticle(worker).await();
    producer = new Producer(stack.bootstrapServers(), topics);
    events = new EventLog(stack.bootstrapServers(), topics.events());
    deadLetters = new EventLog(stack.bootstrapServers(), topics.deadLetter());
  }

  @AfterAll
  static void stop() throws Exception {
    if (events != null) {
      events.close();
      deadLetters.close();
      producer.close();
    }
    if (vertx != null) {
      vertx.close().await();
    }
    if (stack != null) {
      stack.close();
    }
  }

  static void generate(String jobId, String extra) throws Exception {
    producer.request(
        Schemas.GENERATE_REQUEST,
        "{\"jobId\":\""
            + jobId
            + "\",\"tenant\":\"acme\",\"prompt\":\"a photo of a toy car\",\"steps\":4,\"seed\":3"
            + extra
            + "}");
  }

  @Test
  void generationComesBackAsOrderedEventsWithTheImageInRedis() throws Exception {
    generate("gen-ok", ",\"imageCount\":2");
    JobEvent done = events.awaitTerminal("gen-ok", WAIT);
    assertEquals(JobEvent.SUCCEEDED, done.state(), String.valueOf(done));
    assertEquals(2, done.result().imageBlobIds().size());
    List<JobEvent> all = events.events("gen-ok");
    assertEquals(JobEvent.RUNNING, all.get(0).state());
    for (int i = 1; i < all.size(); i++) {
      assertTrue(all.get(i).seq() > all.get(i - 1).seq(), "seq must grow: " + all);
    }
    assertTrue(
        all.stream().anyMatch(e -> "progress".equals(e.kind()) && e.step() == 4 && e.total() == 4));
    byte[] png = redisGet("blob:acme/" + done.result().imageBlobIds().get(0));
    assertNotNull(png);
    assertEquals(32, ImageCodec.decode(png, "result").getWidth());
  }

  @Test
  void trainedConceptLandsInTheRegistryAndDrivesAGeneration() throws Exception {
    String images =
        "["
            + String.join(",", Collections.nCopies(2, "{\"base64\":\"" + squarePng() + "\"}"))
            + "]";
    producer.request(
        Schemas.TRAIN_REQUEST,
        "{\"jobId\":\"train-ok\",\"tenant\":\"acme\",\"conceptName\":\"zwx\","
            + "\"superclass\":\"car\",\"images\":"
            + images
            + ",\"steps\":3,\"options\":{\"batchSize\":1,\"gradientAccumulation\":1}}");
    JobEvent trained = events.awaitTerminal("train-ok", WAIT);
    assertEquals(JobEvent.SUCCEEDED, trained.state(), String.valueOf(trained));
    assertEquals("train-ok", trained.result().conceptId());
    assertTrue(
        events.events("train-ok").stream().anyMatch(e -> e.loss() != null),
        "training progress carries the loss");
    try (EventLog registry = new EventLog(stack.bootstrapServers(), topics.concepts())) {
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (registry.records.stream().noneMatch(r -> "acme/train-ok".equals(r.key()))
          && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertTrue(
          registry.records.stream().anyMatch(r -> "acme/train-ok".equals(r.key())),
          "concept in the registry");
    }
    generate(
        "gen-concept",
        ",\"prompt\":\"a photo of my"
            + " zwx\",\"concepts\":[{\"conceptId\":\"train-ok\",\"beta\":0.6}],\"globalLock\":true");
    JobEvent g = events.awaitTerminal("gen-concept", WAIT);
    assertEquals(JobEvent.SUCCEEDED, g.state(), String.valueOf(g));
    // generate-request v4: guidance through "a photo of my car". At the request's guidance (7.5)
    // it is plain guidance; at 0 it draws the anchor's guidance alone, another image.
    String guided =
        ",\"prompt\":\"a photo of my zwx\",\"concepts\":[{\"conceptId\":\"train-ok\","
            + "\"beta\":0.6}],\"globalLock\":true,\"conceptGuidance\":";
    generate("gen-guided-same", guided + "7.5");
    generate("gen-guided-zero", guided + "0");
    generate("gen-guided-off", guided + "3,\"guidance\":1");
    generate("gen-guided-plain", ",\"conceptGuidance\":3");
    int same = maxLevelDifference(g, events.awaitTerminal("gen-guided-same", WAIT));
    int zero = maxLevelDifference(g, events.awaitTerminal("gen-guided-zero", WAIT));
    assertTrue(same <= 2, "conceptGuidance = guidance is plain guidance, off by " + same);
    assertTrue(zero > 2, "conceptGuidance 0 draws the superclass prompt's image: " + zero);
    assertFailed("gen-guided-off", "/conceptGuidance", "set 'guidance' above 1");
    assertFailed("gen-guided-plain", "/conceptGuidance", "needs concepts");
    // generate-request v3: each box draws its own prompt, the concept confined to its box.
    String regions =
        ",\"prompt\":\"a zwx on the left and a toy car on the right\","
            + "\"concepts\":[{\"conceptId\":\"train-ok\"}],\"regions\":["
            + "{\"left\":0,\"top\":0,\"right\":0.5,\"bottom\":1,\"prompt\":\"a zwx on the left\"},"
            + "{\"left\":0.5,\"top\":0,\"right\":1,\"bottom\":1,\"prompt\":\"a toy car\"}],"
            + "\"confineConcepts\":true";
    generate("gen-regions", regions);
    JobEvent regional = events.awaitTerminal("gen-regions", WAIT);
    assertEquals(JobEvent.SUCCEEDED, regional.state(), String.valueOf(regional));
    // Regions and guidance through the superclass: each box anchored on its own prompt's (outside
    // the boxes anchor and prompt are the same superclass text, so only the zwx box can change).
    generate("gen-regions-guided", regions + ",\"conceptGuidance\":0");
    JobEvent regionalGuided = events.awaitTerminal("gen-regions-guided", WAIT);
    assertEquals(JobEvent.SUCCEEDED, regionalGuided.state(), String.valueOf(regionalGuided));
    assertTrue(
        maxLevelDifference(regional, regionalGuided) > 2,
        "the boxes' anchors change the regional image");
    // Another tenant cannot use it.
    producer.request(
        Schemas.GENERATE_REQUEST,
        "{\"jobId\":\"gen-thief\",\"tenant\":\"other\",\"prompt\":\"zwx\",\"steps\":1,\"concepts\":[{\"conceptId\":\"train-ok\"}]}");
    JobEvent thief = events.awaitTerminal("gen-thief", WAIT);
    assertEquals(JobEvent.FAILED, thief.state());
    assertEquals("/concepts/0/conceptId", thief.error().field());
  }

  /**
   * train-request v2 to v4: the captions (one per image), the two options, flip and keyRate reach
   * the trained concept, whose file records them; a caption count that is not the image count fails
   * naming /captions; flip always with randomFlip false fails naming /options/flip; captions under
   * a version-1 header are refused by version 1's schema.
   */
  @Test
  void captionsAndOptionsOfVersions2To4ReachTheConcept() throws Exception {
    String images =
        "["
            + String.join(",", Collections.nCopies(2, "{\"base64\":\"" + squarePng() + "\"}"))
            + "]";
    String body =
        "\"tenant\":\"acme\",\"conceptName\":\"qvx\",\"superclass\":\"car\",\"images\":"
            + images
            + ",\"steps\":2,\"options\":{\"batchSize\":1,\"gradientAccumulation\":1,"
            + "\"embeddingNormCap\":1,\"backgroundWeight\":0.5,\"flip\":\"never\","
            + "\"keyRate\":0.1}";
    producer.request(
        Schemas.TRAIN_REQUEST,
        "{\"jobId\":\"train-captions\","
            + body
            + ",\"captions\":[\"a {} on the left\",\"a photo of a {}\"]}");
    producer.request(
        Schemas.TRAIN_REQUEST,
        "{\"jobId\":\"train-one-caption\"," + body + ",\"captions\":[\"a {} on the left\"]}");
    producer.raw(
        topics.train(),
        "train-v1-captions",
        Schemas.TRAIN_REQUEST,
        "1",
        "{\"jobId\":\"train-v1-captions\","
            + body.replace(
                ",\"embeddingNormCap\":1,\"backgroundWeight\":0.5,\"flip\":\"never\","
                    + "\"keyRate\":0.1",
                "")
            + ",\"captions\":[\"a {} on the left\",\"a photo of a {}\"]}");
    producer.request(
        Schemas.TRAIN_REQUEST,
        "{\"jobId\":\"train-flip-conflict\","
            + body.replace("\"flip\":\"never\"", "\"flip\":\"always\",\"randomFlip\":false")
            + "}");
    JobEvent trained = events.awaitTerminal("train-captions", WAIT);
    assertEquals(JobEvent.SUCCEEDED, trained.state(), String.valueOf(trained));
    assertFailed("train-one-caption", "/captions", "1 captions for 2 images");
    assertFailed("train-flip-conflict", "/options/flip", "conflicts with randomFlip false");
    assertFailed("train-v1-captions", "/captions", "");
    try (EventLog registry = new EventLog(stack.bootstrapServers(), topics.concepts())) {
      long deadline = System.nanoTime() + WAIT.toNanos();
      ConsumerRecord<String, byte[]> entry = null;
      while (entry == null && System.nanoTime() < deadline) {
        entry =
            registry.records.stream()
                .filter(r -> "acme/train-captions".equals(r.key()))
                .findFirst()
                .orElse(null);
        Thread.sleep(50);
      }
      assertNotNull(entry, "concept in the registry");
      ConceptRegistered c = RecordCodec.read(entry.value(), ConceptRegistered.class);
      Map<String, String> settings =
          ConceptFile.fromBytes(Base64.getDecoder().decode(c.file())).trainingSettings();
      assertEquals("per-image", settings.get("captions"), settings.toString());
      assertEquals("1.0", settings.get("embedding_norm_cap"), settings.toString());
      assertEquals("0.5", settings.get("background_weight"), settings.toString());
      // The square is mirror-symmetric, so only flip never (version 3) keeps its flips off.
      assertEquals("false", settings.get("random_flip"), settings.toString());
      assertEquals("0.1", settings.get("key_rate"), settings.toString()); // version 4
    }
  }

  @Test
  void badInputIsFailedAndDeadLetteredWhileValidJobsSucceed() throws Exception {
    String t = topics.generate();
    producer.unchecked(Schemas.GENERATE_REQUEST, "bad-json", "{\"jobId\": \"bad-json\", ");
    generate("between-1", "");
    producer.unchecked(
        Schemas.GENERATE_REQUEST,
        "bad-type",
        "{\"jobId\":\"bad-type\",\"tenant\":\"acme\",\"prompt\":\"x\",\"steps\":\"many\"}");
    producer.unchecked(
        Schemas.GENERATE_REQUEST, "bad-missing", "{\"jobId\":\"bad-missing\",\"tenant\":\"acme\"}");
    producer.raw(
        t,
        "bad-version",
        Schemas.GENERATE_REQUEST,
        "9",
        "{\"jobId\":\"bad-version\",\"tenant\":\"acme\",\"prompt\":\"x\"}");
    generate("between-2", "");
    producer.unchecked(
        Schemas.GENERATE_REQUEST, "bad-size", new byte[Schemas.MAX_REQUEST_BYTES + 10]);
    producer.request(
        Schemas.GENERATE_REQUEST,
        "{\"jobId\":\"bad-width\",\"tenant\":\"acme\",\"prompt\":\"x\",\"width\":33}");
    producer.request(
        Schemas.TRAIN_REQUEST,
        "{\"jobId\":\"bad-image\",\"tenant\":\"acme\",\"conceptName\":\"zwx\","
            + "\"superclass\":\"car\",\"images\":[{\"base64\":\""
            + Base64.getEncoder().encodeToString("not an image".getBytes(StandardCharsets.UTF_8))
            + "\"}]}");
    producer.request(
        Schemas.TRAIN_REQUEST,
        "{\"jobId\":\"bad-url\",\"tenant\":\"acme\",\"conceptName\":\"zwx\","
            + "\"superclass\":\"car\",\"images\":[{\"url\":\"http://169.254.169.254/latest\"}]}");
    producer.request(
        Schemas.GENERATE_REQUEST,
        "{\"jobId\":\"bad-region\",\"tenant\":\"acme\",\"prompt\":\"x\",\"regions\":"
            + "[{\"left\":0.6,\"top\":0,\"right\":0.4,\"bottom\":1,\"prompt\":\"y\"}]}");
    producer.request(
        Schemas.GENERATE_REQUEST,
        "{\"jobId\":\"bad-confine\",\"tenant\":\"acme\",\"prompt\":\"x\",\"confineConcepts\":true}");
    generate("between-3", "");

    assertFailed("bad-json", "", "malformed JSON");
    assertFailed("bad-region", "/regions/0", "left must be less than right");
    assertFailed("bad-confine", "/confineConcepts", "needs regions");
    assertFailed("bad-type", "/steps", "integer");
    assertFailed("bad-missing", "/prompt", "required");
    assertFailed("bad-version", "", "unknown schema version");
    assertFailed("bad-size", "", "exceeds the limit");
    assertFailed("bad-width", "/width", "multiple of 2");
    assertFailed("bad-image", "/images/0/base64", "not a PNG or JPEG");
    assertFailed("bad-url", "/images/0/url", "allow-list");
    for (String ok : List.of("between-1", "between-2", "between-3")) {
      assertEquals(JobEvent.SUCCEEDED, events.awaitTerminal(ok, WAIT).state(), ok);
    }
  }

  @Test
  void duplicateJobIdRunsOnce() throws Exception {
    generate("dup", "");
    JobEvent first = events.awaitTerminal("dup", WAIT);
    generate("dup", "");
    events.await("dup", e -> e.terminal() && e.seq() != first.seq(), WAIT);
    List<JobEvent> all = events.events("dup");
    assertEquals(
        1,
        all.stream()
            .filter(e -> JobEvent.RUNNING.equals(e.state()) && "state".equals(e.kind()))
            .count(),
        "ran once: " + all);
    assertEquals(
        2,
        all.stream().filter(e -> JobEvent.SUCCEEDED.equals(e.state())).count(),
        "result republished: " + all);
  }

  @Test
  void cancelStopsARunningJob() throws Exception {
    generate("to-cancel", ",\"steps\":200");
    events.await("to-cancel", e -> "progress".equals(e.kind()), WAIT);
    producer.request(
        Schemas.CANCEL_REQUEST,
        "{\"jobId\":\"to-cancel\",\"tenant\":\"acme\",\"reason\":\"test\"}");
    JobEvent end = events.awaitTerminal("to-cancel", WAIT);
    assertEquals(JobEvent.CANCELLED, end.state(), String.valueOf(end));
    // A cancel for a job that has not started yet removes it from the queue.
    producer.request(Schemas.CANCEL_REQUEST, "{\"jobId\":\"never\",\"tenant\":\"acme\"}");
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (redisGet("cancel:acme/never") == null && System.nanoTime() < deadline) {
      Thread.sleep(50); // the worker has registered the cancel (it is read asynchronously)
    }
    generate("never", "");
    assertEquals(JobEvent.CANCELLED, events.awaitTerminal("never", WAIT).state());
  }

  /**
   * Redis goes down before the job's last step and comes back empty (a restart without persistence)
   * only after the job has finished every step and started writing its images: those writes are in
   * flight across the restart, and the result of that same run must still land in the new Redis.
   */
  @Test
  void redisRestartWhileTheResultIsWrittenLosesNoResult() throws Exception {
    System.setProperty("perfusion.worker.testStepDelayMs", "100");
    try {
      generate("through-restart", ",\"steps\":40,\"imageCount\":2");
      events.await("through-restart", e -> "progress".equals(e.kind()) && e.step() >= 10, WAIT);
      stack.redis().stop();
      try {
        JobEvent last =
            events.await(
                "through-restart", e -> "progress".equals(e.kind()) && e.step() == 40, WAIT);
        assertEquals(40, last.total());
        // Longer than the 2 s Redis command timeout: the first write has failed by now and is being
        // retried.
        Thread.sleep(3000);
        assertTrue(
            events.events("through-restart").stream().noneMatch(JobEvent::terminal),
            "the job ended while Redis was down, so nothing was written across the restart: "
                + events.events("through-restart"));
      } finally {
        stack.redis().startAgain();
      }
    } finally {
      System.clearProperty("perfusion.worker.testStepDelayMs");
    }
    JobEvent done = events.awaitTerminal("through-restart", WAIT);
    assertEquals(JobEvent.SUCCEEDED, done.state(), String.valueOf(done));
    List<JobEvent> all = events.events("through-restart");
    assertEquals(
        1,
        all.stream()
            .filter(e -> JobEvent.RUNNING.equals(e.state()) && "state".equals(e.kind()))
            .count(),
        "the result of the first run was written, not that of a run again after giving up on Redis:"
            + " "
            + all);
    for (String blob : done.result().imageBlobIds()) {
      assertNotNull(redisGet("blob:acme/" + blob), blob + " stored in the restarted Redis");
    }
  }

  /** The largest level difference between two succeeded jobs' first images. */
  private static int maxLevelDifference(JobEvent a, JobEvent b) throws Exception {
    assertEquals(JobEvent.SUCCEEDED, a.state(), String.valueOf(a));
    assertEquals(JobEvent.SUCCEEDED, b.state(), String.valueOf(b));
    return ImageCodec.maxLevelDifference(
        ImageCodec.decode(redisGet("blob:acme/" + a.result().imageBlobIds().get(0)), "a"),
        ImageCodec.decode(redisGet("blob:acme/" + b.result().imageBlobIds().get(0)), "b"));
  }

  private static void assertFailed(String jobId, String field, String reasonPart) throws Exception {
    JobEvent e = events.awaitTerminal(jobId, WAIT);
    assertEquals(JobEvent.FAILED, e.state(), jobId);
    assertEquals(field.isEmpty() ? null : field, e.error().field(), jobId + ": " + e.error());
    assertTrue(e.error().reason().contains(reasonPart), jobId + ": " + e.error().reason());
    long deadline = System.nanoTime() + WAIT.toNanos();
    ConsumerRecord<String, byte[]> dl = null;
    while (dl == null && System.nanoTime() < deadline) {
      dl = deadLetters.records.stream().filter(r -> jobId.equals(r.key())).findFirst().orElse(null);
      Thread.sleep(50);
    }
    assertNotNull(dl, jobId + " dead-lettered");
    assertTrue(
        new String(dl.headers().lastHeader(Headers.DLQ_REASON).value(), StandardCharsets.UTF_8)
            .contains(reasonPart));
    assertNotNull(dl.headers().lastHeader(Headers.DLQ_TOPIC));
    assertNotNull(dl.headers().lastHeader(Headers.DLQ_OFFSET));
  }

  private static byte[] redisGet(String key) {
    RedisClient client = RedisClient.create(stack.redisUri());
    try (StatefulRedisConnection<String, byte[]> c =
        client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE))) {
      return c.sync().get(key);
    } finally {
      client.shutdown();
    }
  }

  static String squarePng() {
    BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setColor(Color.BLUE);
    g.fillRect(0, 0, 32, 32);
    g.setColor(Color.RED);
    g.fillRect(8, 8, 14, 14);
    g.dispose();
    return Base64.getEncoder().encodeToString(ImageCodec.pngBytes(img));
  }
}
