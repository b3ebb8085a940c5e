package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.infra.LocalStack;

/**
 * Continuous batching in a real worker process (real broker and redis-server): generation jobs that
 * arrive together share UNet calls and each gets the images it gets alone; training and generation
 * take turns; cancel removes one request from the batch; kill -9 of a worker that holds several
 * records hands every one of them to the other worker, which finishes each exactly once. Steps are
 * slowed by a test hook (50 ms per request and step) so that jobs overlap.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BatchingTest {
  static final Duration WAIT = Duration.ofSeconds(120);
  static final Topics TOPICS = new Topics("batch.");
  static final Map<String, String> SLOW_STEPS = Map.of("perfusion.worker.testStepDelayMs", "50");
  static final Map<String, String> SETTINGS =
      Map.of("PERFUSION_MAX_BATCH", "4", "PERFUSION_MAX_GENERATE_STEPS", "200");
  static LocalStack stack;
  static WorkerProcesses workers;
  static Producer producer;
  static EventLog events;
  static RedisStore redis;

  @BeforeAll
  static void start() throws Exception {
    stack = LocalStack.start(TOPICS);
    workers = new WorkerProcesses(stack, TOPICS);
    workers.start("b1", SETTINGS, SLOW_STEPS);
    workers.awaitReady("b1", WAIT);
    producer = new Producer(stack.bootstrapServers(), TOPICS);
    events = new EventLog(stack.bootstrapServers(), TOPICS.events());
    redis = new RedisStore(stack.redisUri(), Duration.ofSeconds(30));
    // Every intake of a fresh share group takes a while to get its first record: warm them up.
    for (int i = 0; i < 4; i++) {
      generate("warm-" + i, "a toy car", 2, 0, "");
    }
    for (int i = 0; i < 4; i++) {
      assertEquals(JobEvent.SUCCEEDED, events.awaitTerminal("warm-" + i, WAIT).state());
    }
  }

  @AfterAll
  static void stop() throws Exception {
    if (workers != null) {
      workers.close();
    }
    if (events != null) {
      events.close();
      producer.close();
      redis.close();
    }
    if (stack != null) {
      stack.close();
    }
  }

  static void generate(String jobId, String prompt, int steps, long seed, String extra)
      throws Exception {
    producer.request(
        Schemas.GENERATE_REQUEST,
        "{\"jobId\":\""
            + jobId
            + "\",\"tenant\":\"acme\",\"prompt\":\""
            + prompt
            + "\",\"steps\":"
            + steps
            + ",\"seed\":"
            + seed
            + ",\"width\":64,\"height\":64"
            + extra
            + "}");
  }

  /** Four different requests: prompts, seeds, steps, guidance, samplers, a negative prompt. */
  static void sendFour(String prefix) throws Exception {
    generate(prefix + "-1", "a toy car", 12, 1, ",\"guidance\":7.5");
    generate(
        prefix + "-2",
        "a bird on the beach",
        16,
        2,
        ",\"guidance\":5,\"negativePrompt\":\"a drawing\"");
    generate(prefix + "-3", "a green toy", 12, 3, ",\"guidance\":1,\"sampler\":\"dpmpp_2m\"");
    generate(prefix + "-4", "a yellow bird", 14, 4, ",\"sampler\":\"euler_a\"");
  }

  static final int FOUR_STEPS = 12 + 16 + 12 + 14;

  @Test
  @Order(1)
  void jobsArrivingTogetherShareUnetCallsAndGetTheirSoloImages() throws Exception {
    double calls0 = workers.metric("b1", "perfusion_batch_unet_calls_total");
    sendFour("together");
    List<JobEvent> done = new ArrayList<>();
    for (int i = 1; i <= 4; i++) {
      done.add(events.awaitTerminal("together-" + i, WAIT));
      assertEquals(JobEvent.SUCCEEDED, done.get(i - 1).state(), String.valueOf(done.get(i - 1)));
    }
    double calls = workers.metric("b1", "perfusion_batch_unet_calls_total") - calls0;
    // Alone they take 54 calls; together at least the longest job's 16.
    assertTrue(
        calls >= 16 && calls <= FOUR_STEPS * 0.6,
        "UNet calls for 4 jobs of 54 steps in all: " + calls);
    Instant lastStart = Instant.MIN;
    Instant firstEnd = Instant.MAX;
    for (int i = 1; i <= 4; i++) {
      String id = "together-" + i;
      Instant start =
          Instant.parse(events.await(id, e -> "progress".equals(e.kind()), WAIT).time());
      Instant end = Instant.parse(done.get(i - 1).time());
      lastStart = start.isAfter(lastStart) ? start : lastStart;
      firstEnd = end.isBefore(firstEnd) ? end : firstEnd;
      assertEquals(
          1,
          events.events(id).stream().filter(e -> JobEvent.SUCCEEDED.equals(e.state())).count(),
          id + " succeeded once");
    }
    assertTrue(
        lastStart.isBefore(firstEnd),
        "all four ran at once: last start " + lastStart + ", first end " + firstEnd);

    // The same requests one at a time: a batch of one each.
    for (int i = 1; i <= 4; i++) {
      String[] prompts = {"a toy car", "a bird on the beach", "a green toy", "a yellow bird"};
      int[] steps = {12, 16, 12, 14};
      String[] extra = {
        ",\"guidance\":7.5",
        ",\"guidance\":5,\"negativePrompt\":\"a drawing\"",
        ",\"guidance\":1,\"sampler\":\"dpmpp_2m\"",
        ",\"sampler\":\"euler_a\""
      };
      generate("alone-" + i, prompts[i - 1], steps[i - 1], i, extra[i - 1]);
      JobEvent alone = events.awaitTerminal("alone-" + i, WAIT);
      assertEquals(JobEvent.SUCCEEDED, alone.state());
      assertImagesWithinOneLevel(done.get(i - 1), alone);
    }
  }

  @Test
  @Order(2)
  void trainingAndGenerationTakeTurns() throws Exception {
    String images = "[{\"base64\":\"" + WorkerEndToEndTest.squarePng() + "\"}]";
    producer.request(
        Schemas.TRAIN_REQUEST,
        "{\"jobId\":\"turns-train\",\"tenant\":\"acme\",\"conceptName\":\"zwx\","
            + "\"superclass\":\"car\",\"images\":"
            + images
            + ",\"steps\":80,\"options\":{\"batchSize\":1,\"gradientAccumulation\":1}}");
    events.await("turns-train", e -> "progress".equals(e.kind()) && e.step() >= 3, WAIT);
    generate("turns-gen", "a toy car", 20, 5, "");
    JobEvent gen = events.awaitTerminal("turns-gen", WAIT);
    assertEquals(JobEvent.SUCCEEDED, gen.state());
    Instant genStart =
        Instant.parse(events.await("turns-gen", e -> "progress".equals(e.kind()), WAIT).time());
    Instant genEnd = Instant.parse(gen.time());
    assertTrue(
        events.events("turns-train").stream().noneMatch(JobEvent::terminal),
        "the generation finished while the training runs");
    JobEvent trained = events.awaitTerminal("turns-train", WAIT);
    assertEquals(JobEvent.SUCCEEDED, trained.state(), String.valueOf(trained));
    long trainingStepsMeanwhile =
        events.events("turns-train").stream()
            .filter(e -> "progress".equals(e.kind()))
            .map(e -> Instant.parse(e.time()))
            .filter(t -> t.isAfter(genStart) && t.isBefore(genEnd))
            .count();
    assertTrue(trainingStepsMeanwhile >= 1, "the training went on while the generation ran");
  }

  @Test
  @Order(3)
  void cancelRemovesOneRequestFromTheBatch() throws Exception {
    generate("keep", "a toy car", 60, 6, "");
    generate("drop", "a bird", 60, 7, "");
    events.await("keep", e -> "progress".equals(e.kind()), WAIT);
    events.await("drop", e -> "progress".equals(e.kind()), WAIT);
    producer.request(
        Schemas.CANCEL_REQUEST, "{\"jobId\":\"drop\",\"tenant\":\"acme\",\"reason\":\"test\"}");
    assertEquals(JobEvent.CANCELLED, events.awaitTerminal("drop", WAIT).state());
    assertTrue(
        events.events("keep").stream().noneMatch(JobEvent::terminal),
        "the other request is still running");
    assertEquals(JobEvent.SUCCEEDED, events.awaitTerminal("keep", WAIT).state());
  }

  @Test
  @Order(4)
  void killNineHandsEveryHeldRecordToTheOtherWorker() throws Exception {
    for (int i = 1; i <= 3; i++) {
      generate("held-" + i, "a toy car", 150, 10 + i, "");
    }
    List<JobEvent> firstRuns = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      firstRuns.add(events.await("held-" + i, e -> "progress".equals(e.kind()), WAIT));
      assertEquals("b1", firstRuns.get(i - 1).worker());
    }
    workers.start("b2", SETTINGS, SLOW_STEPS);
    workers.awaitReady("b2", WAIT);
    assertTrue(
        events.events("held-1").stream().noneMatch(JobEvent::terminal),
        "still running on b1 when it is killed");
    workers.kill("b1");
    for (int i = 1; i <= 3; i++) {
      String id = "held-" + i;
      JobEvent end = events.awaitTerminal(id, WAIT);
      assertEquals(JobEvent.SUCCEEDED, end.state(), String.valueOf(end));
      assertEquals("b2", end.worker());
      Thread.sleep(i == 3 ? 2000 : 0); // room for a duplicate to show up
      List<JobEvent> all = events.events(id);
      assertEquals(
          1,
          all.stream().filter(e -> JobEvent.SUCCEEDED.equals(e.state())).count(),
          id + ": " + all);
      for (int k = 1; k < all.size(); k++) {
        assertTrue(all.get(k).seq() > all.get(k - 1).seq(), id + ": seq grows: " + all);
      }
    }
  }

  private static void assertImagesWithinOneLevel(JobEvent batched, JobEvent alone)
      throws Exception {
    List<String> a = batched.result().imageBlobIds();
    List<String> b = alone.result().imageBlobIds();
    assertEquals(a.size(), b.size());
    for (int k = 0; k < a.size(); k++) {
      BufferedImage x = ImageIO.read(new ByteArrayInputStream(redis.blob("acme", a.get(k))));
      BufferedImage y = ImageIO.read(new ByteArrayInputStream(redis.blob("acme", b.get(k))));
      int worst = ImageCodec.maxLevelDifference(x, y);
      assertTrue(
          worst <= 1,
          batched.jobId() + " image " + k + ": batched and alone differ by " + worst + " levels");
    }
  }
}
