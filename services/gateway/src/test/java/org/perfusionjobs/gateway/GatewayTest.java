package org.perfusionjobs.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.vertx.core.Vertx;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.contracts.CancelRequestV1;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.testdata.TestData;
import org.perfusionjobs.worker.WorkerConfig;
import org.perfusionjobs.worker.WorkerVerticle;

/**
 * The gateway with a real broker, redis-server and worker: REST, WebSocket progress, tenants,
 * cancel.
 */
class GatewayTest {
  static final Duration WAIT = Duration.ofSeconds(90);
  static LocalStack stack;
  static Vertx vertx;
  static GatewayVerticle gateway;
  static final HttpClient http = HttpClient.newHttpClient();
  static String base;
  static Topics topics;

  @BeforeAll
  static void start() throws Exception {
    topics = new Topics("gw.");
    stack = LocalStack.start(topics);
    vertx = Vertx.vertx();
    Path model = TestData.sdTinyRef();
    vertx
        .deployVerticle(
            new WorkerVerticle(
                WorkerConfig.local(stack.bootstrapServers(), stack.redisUri(), topics, model)
                    .withCaptions(
                        Path.of("../../config/captions/sd-tiny-ref.txt").toAbsolutePath())))
        .await();
    gateway =
        new GatewayVerticle(
            new GatewayConfig(
                stack.bootstrapServers(),
                stack.redisUri(),
                topics,
                0,
                Map.of("token-a", "acme", "token-b", "other"),
                Duration.ofHours(1)));
    vertx.deployVerticle(gateway).await();
    base = "http://127.0.0.1:" + gateway.port();
  }

  @AfterAll
  static void stop() {
    if (vertx != null) {
      vertx.close().await();
    }
    if (stack != null) {
      stack.close();
    }
  }

  static HttpResponse<byte[]> call(String method, String path, String token, byte[] body)
      throws Exception {
    return GatewayHttp.call(base, method, path, token, body);
  }

  static JsonNode json(HttpResponse<byte[]> r) throws Exception {
    return Schemas.json().readTree(r.body());
  }

  /** A WebSocket client that records every frame. */
  static final class Frames implements WebSocket.Listener {
    final List<JsonNode> frames = new CopyOnWriteArrayList<>();
    private final StringBuilder partial = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        try {
          frames.add(Schemas.json().readTree(partial.toString()));
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
        partial.setLength(0);
      }
      ws.request(1);
      return null;
    }

    List<JsonNode> events() {
      return frames.stream()
          .filter(f -> f.get("type").asText().equals("event"))
          .map(f -> f.get("data"))
          .toList();
    }

    JsonNode awaitProgress(int afterStep) throws InterruptedException {
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (System.nanoTime() < deadline) {
        for (JsonNode e : events()) {
          if ("progress".equals(e.get("kind").asText()) && e.get("step").asInt() > afterStep) {
            return e;
          }
        }
        Thread.sleep(50);
      }
      throw new AssertionError("no progress after step " + afterStep + "; frames " + frames);
    }

    JsonNode awaitState(String state) throws InterruptedException {
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (System.nanoTime() < deadline) {
        for (JsonNode e : events()) {
          if (state.equals(e.get("state").asText()) && !"progress".equals(e.get("kind").asText())) {
            return e;
          }
        }
        Thread.sleep(50);
      }
      throw new AssertionError("no " + state + " event; frames " + frames);
    }
  }

  static WebSocket subscribe(Frames f, String token, String jobId, long afterSeq) throws Exception {
    WebSocket ws =
        http.newWebSocketBuilder()
            .buildAsync(URI.create("ws://127.0.0.1:" + gateway.port() + "/v1/ws?token=" + token), f)
            .get();
    ws.sendText(
            "{\"subscribe\":[{\"jobId\":\"" + jobId + "\",\"afterSeq\":" + afterSeq + "}]}", true)
        .get();
    return ws;
  }

  @Test
  void submitWatchAndFetchWithTenantIsolation() throws Exception {
    assertEquals(401, call("POST", "/v1/jobs/generate", null, "{}".getBytes()).statusCode());
    assertEquals(401, call("GET", "/v1/jobs/x", "wrong", null).statusCode());
    HttpResponse<byte[]> bad =
        call(
            "POST",
            "/v1/jobs/generate",
            "token-a",
            "{\"prompt\":\"x\",\"steps\":\"many\"}".getBytes());
    assertEquals(400, bad.statusCode());
    assertEquals("/steps", json(bad).get("field").asText());
    assertEquals(
        403,
        call(
                "POST",
                "/v1/jobs/generate",
                "token-a",
                "{\"prompt\":\"x\",\"tenant\":\"other\"}".getBytes())
            .statusCode());

    HttpResponse<byte[]> ok =
        call(
            "POST",
            "/v1/jobs/generate",
            "token-a",
            "{\"jobId\":\"gw-1\",\"prompt\":\"a toy car\",\"steps\":8,\"imageCount\":2}"
                .getBytes());
    assertEquals(202, ok.statusCode(), new String(ok.body()));
    Frames live = new Frames();
    WebSocket ws = subscribe(live, "token-a", "gw-1", -1);
    JsonNode done = live.awaitState("succeeded");
    List<JsonNode> events = live.events();
    for (int i = 1; i < events.size(); i++) {
      assertTrue(
          events.get(i).get("seq").asLong() > events.get(i - 1).get("seq").asLong(),
          "in order: " + events);
    }
    assertTrue(
        events.stream().anyMatch(e -> "progress".equals(e.get("kind").asText())), "progress seen");
    assertEquals(
        "queued",
        events.get(0).get("state").asText(),
        "the gateway reports the job queued first: " + events);
    ws.abort();

    HttpResponse<byte[]> status = call("GET", "/v1/jobs/gw-1", "token-a", null);
    assertEquals("succeeded", json(status).get("state").asText());
    HttpResponse<byte[]> img = call("GET", "/v1/jobs/gw-1/images/1", "token-a", null);
    assertEquals(200, img.statusCode());
    assertEquals(32, ImageIO.read(new ByteArrayInputStream(img.body())).getWidth());

    // Another tenant sees nothing of it.
    assertEquals(404, call("GET", "/v1/jobs/gw-1", "token-b", null).statusCode());
    assertEquals(404, call("GET", "/v1/jobs/gw-1/images/0", "token-b", null).statusCode());
    Frames foreign = new Frames();
    WebSocket ws2 = subscribe(foreign, "token-b", "gw-1", -1);
    Thread.sleep(500);
    assertTrue(foreign.events().isEmpty(), "no events for another tenant");
    ws2.abort();

    // Reconnect after a given seq: only what followed.
    long mid = events.get(events.size() / 2).get("seq").asLong();
    Frames resumed = new Frames();
    WebSocket ws3 = subscribe(resumed, "token-a", "gw-1", mid);
    resumed.awaitState("succeeded");
    assertTrue(resumed.frames.get(0).get("type").asText().equals("snapshot"), "snapshot first");
    assertTrue(resumed.events().stream().allMatch(e -> e.get("seq").asLong() > mid));
    assertEquals(
        done.get("seq").asLong(),
        resumed.events().get(resumed.events().size() - 1).get("seq").asLong());
    ws3.abort();
  }

  @Test
  void uploadTrainListAndDeleteConcepts() throws Exception {
    BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setColor(Color.ORANGE);
    g.fillOval(4, 4, 20, 20);
    g.dispose();
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    ImageIO.write(img, "png", png);
    HttpResponse<byte[]> up = call("POST", "/v1/blobs", "token-a", png.toByteArray());
    assertEquals(201, up.statusCode());
    String blob = json(up).get("blobId").asText();
    HttpResponse<byte[]> train =
        call(
            "POST",
            "/v1/jobs/train",
            "token-a",
            ("{\"jobId\":\"gw-train\",\"conceptName\":\"sks\",\"superclass\":\"bird\","
                    + "\"images\":[{\"blobId\":\""
                    + blob
                    + "\"}],\"steps\":2,\"options\":{\"batchSize\":1,\"gradientAccumulation\":1}}")
                .getBytes());
    assertEquals(202, train.statusCode(), new String(train.body()));
    Frames f = new Frames();
    WebSocket ws = subscribe(f, "token-a", "gw-train", -1);
    f.awaitState("succeeded");
    ws.abort();
    long deadline = System.nanoTime() + WAIT.toNanos();
    JsonNode list = json(call("GET", "/v1/concepts", "token-a", null));
    while (list.size() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(100);
      list = json(call("GET", "/v1/concepts", "token-a", null));
    }
    assertEquals("sks", list.get(0).get("placeholder").asText());
    assertEquals(0, json(call("GET", "/v1/concepts", "token-b", null)).size());
    assertEquals(404, call("GET", "/v1/concepts/gw-train", "token-b", null).statusCode());
    assertEquals(404, call("DELETE", "/v1/concepts/gw-train", "token-b", null).statusCode());
    assertEquals(200, call("GET", "/v1/concepts/gw-train", "token-a", null).statusCode());
    assertEquals(204, call("DELETE", "/v1/concepts/gw-train", "token-a", null).statusCode());
    assertEquals(404, call("GET", "/v1/concepts/gw-train", "token-a", null).statusCode());
  }

  /**
   * POST /v1/jobs/{id}/cancel writes one cancel request under the caller's tenant: without a valid
   * token nothing is written; another tenant's cancel names that other tenant and leaves the job
   * running; the owner's cancel stops it.
   */
  @Test
  void cancelOverRestGoesToTheCancelTopicUnderTheCallersTenant() throws Exception {
    assertEquals(401, call("POST", "/v1/jobs/gw-cancel/cancel", null, null).statusCode());
    assertEquals(401, call("POST", "/v1/jobs/gw-cancel/cancel", "wrong", null).statusCode());
    System.setProperty("perfusion.worker.testStepDelayMs", "150"); // 100 steps: 15 s at least
    RedisClient redisClient = RedisClient.create(stack.redisUri());
    try (StatefulRedisConnection<String, String> redis = redisClient.connect()) {
      HttpResponse<byte[]> ok =
          call(
              "POST",
              "/v1/jobs/generate",
              "token-a",
              "{\"jobId\":\"gw-cancel\",\"prompt\":\"a toy car\",\"steps\":100}".getBytes());
      assertEquals(202, ok.statusCode(), new String(ok.body()));
      Frames f = new Frames();
      WebSocket ws = subscribe(f, "token-a", "gw-cancel", -1);
      f.awaitProgress(0);

      HttpResponse<byte[]> foreign = call("POST", "/v1/jobs/gw-cancel/cancel", "token-b", null);
      assertEquals(
          202, foreign.statusCode(), "the same answer as for an id the tenant does not have");
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (redis.sync().exists("cancel:other/gw-cancel") == 0 && System.nanoTime() < deadline) {
        Thread.sleep(50); // the worker has read the other tenant's cancel
      }
      assertEquals(
          1,
          redis.sync().exists("cancel:other/gw-cancel"),
          "the worker read the cancel under the caller's tenant");
      assertEquals(
          0,
          redis.sync().exists("cancel:acme/gw-cancel"),
          "another tenant's cancel marks nothing of acme's");
      int step =
          f.events().stream()
              .filter(e -> "progress".equals(e.get("kind").asText()))
              .mapToInt(e -> e.get("step").asInt())
              .max()
              .orElse(0);
      f.awaitProgress(step); // still running after another tenant's cancel
      assertTrue(
          f.events().stream().noneMatch(e -> "cancelled".equals(e.get("state").asText())),
          "another tenant cancelled acme's job: " + f.events());

      assertEquals(202, call("POST", "/v1/jobs/gw-cancel/cancel", "token-a", null).statusCode());
      JsonNode end = f.awaitState("cancelled");
      assertEquals("cancelled through the gateway", end.get("error").get("reason").asText());
      ws.abort();
    } finally {
      System.clearProperty("perfusion.worker.testStepDelayMs");
      redisClient.shutdown();
    }

    List<ConsumerRecord<String, byte[]>> cancels = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c =
        new KafkaConsumer<>(
            Map.of(
                "bootstrap.servers",
                stack.bootstrapServers(),
                "group.id",
                "t-" + UUID.randomUUID(),
                "auto.offset.reset",
                "earliest"),
            new StringDeserializer(),
            new ByteArrayDeserializer())) {
      c.subscribe(List.of(topics.cancel()));
      long deadline = System.nanoTime() + WAIT.toNanos();
      long quietUntil = Long.MAX_VALUE;
      while (System.nanoTime() < Math.min(deadline, quietUntil)) {
        c.poll(Duration.ofMillis(200)).forEach(cancels::add);
        if (cancels.size() >= 2 && quietUntil == Long.MAX_VALUE) {
          quietUntil =
              System.nanoTime() + 2_000_000_000L; // room for a record that should not be there
        }
      }
    }
    List<String> tenants = new ArrayList<>();
    for (ConsumerRecord<String, byte[]> r : cancels) {
      assertEquals("gw-cancel", r.key());
      assertEquals(
          Schemas.CANCEL_REQUEST,
          new String(r.headers().lastHeader(Headers.SCHEMA).value(), StandardCharsets.UTF_8));
      CancelRequestV1 request =
          RecordCodec.decode(
              Schemas.CANCEL_REQUEST,
              new String(r.headers().lastHeader(Headers.VERSION).value(), StandardCharsets.UTF_8),
              r.value(),
              CancelRequestV1.class);
      assertEquals("gw-cancel", request.jobId());
      tenants.add(request.tenant());
    }
    assertEquals(
        List.of("other", "acme"),
        tenants,
        "one record per authenticated cancel, under the caller's tenant, none for the refused"
            + " ones");
  }
}
