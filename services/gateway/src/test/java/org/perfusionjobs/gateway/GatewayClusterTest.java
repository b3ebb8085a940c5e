package org.perfusionjobs.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;

/**
 * Two gateways on one broker and one redis-server (issue 20): per-tenant limits hold across them,
 * and every event a gateway reads is checked against its schema before it reaches a subscriber.
 */
@Timeout(120)
class GatewayClusterTest {
  static final int BURST = 6;
  static final int PER_TENANT = 4;
  static final int PER_CONNECTION = 10;
  static LocalStack stack;
  static Vertx vertx;
  static GatewayVerticle a;
  static GatewayVerticle b;
  static final Topics topics = new Topics("gwc.");
  static final HttpClient http = HttpClient.newHttpClient();
  static final List<WebSocket> sockets = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    stack = LocalStack.start(topics);
    vertx = Vertx.vertx();
    GatewayConfig cfg =
        new GatewayConfig(
                stack.bootstrapServers(),
                stack.redisUri(),
                topics,
                0,
                Map.of(
                    "tok-a", "acme", "tok-b", "other", "tok-s", "subs", "tok-e", "evt", "tok-g",
                    "ghost"),
                Duration.ofHours(1))
            .withLimits(
                GatewayConfig.Limits.DEFAULTS
                    // Slow refill: the burst alone decides within the test.
                    .withWriteRate(0.01, BURST)
                    .withSubscriptions(PER_CONNECTION, PER_TENANT));
    a = new GatewayVerticle(cfg);
    b = new GatewayVerticle(cfg);
    vertx.deployVerticle(a).await();
    vertx.deployVerticle(b).await();
  }

  @AfterAll
  static void stop() {
    sockets.forEach(WebSocket::abort);
    if (vertx != null) {
      vertx.close().await();
    }
    if (stack != null) {
      stack.close();
    }
  }

  static int post(GatewayVerticle g, String token) throws Exception {
    return GatewayHttp.call(
            "http://127.0.0.1:" + g.port(),
            "POST",
            "/v1/jobs/generate",
            token,
            "{\"prompt\":\"a cat\",\"steps\":2}".getBytes(StandardCharsets.UTF_8))
        .statusCode();
  }

  @Test
  void aTenantsWritesOverBothGatewaysHit429AfterTheBurst() throws Exception {
    List<Integer> codes = new ArrayList<>();
    for (int i = 0; i < BURST + 4; i++) {
      codes.add(post(i % 2 == 0 ? a : b, "tok-a"));
    }
    // Per gateway alone each would have allowed BURST writes: 10 would all pass.
    assertEquals(BURST, codes.stream().filter(c -> c == 202).count(), codes.toString());
    assertEquals(4, codes.stream().filter(c -> c == 429).count(), codes.toString());
    assertEquals(202, post(b, "tok-b"), "another tenant has its own bucket");
    assertEquals(202, post(a, "tok-b"));
  }

  static WebSocket socket(GatewayVerticle g, GatewayTest.Frames f, String token) throws Exception {
    WebSocket ws =
        http.newWebSocketBuilder()
            .buildAsync(URI.create("ws://127.0.0.1:" + g.port() + "/v1/ws?token=" + token), f)
            .get(30, TimeUnit.SECONDS);
    sockets.add(ws);
    return ws;
  }

  static void send(WebSocket ws, String text) throws Exception {
    ws.sendText(text, true).get(30, TimeUnit.SECONDS);
  }

  static String subscribe(int from, int to) {
    return "{\"subscribe\":["
        + String.join(
            ",", IntStream.range(from, to).mapToObj(i -> "{\"jobId\":\"s-" + i + "\"}").toList())
        + "]}";
  }

  static long capErrors(GatewayTest.Frames f) {
    return f.frames.stream()
        .filter(x -> x.path("type").asText().equals("error"))
        .filter(x -> x.toString().contains("PERFUSION_WS_SUBSCRIPTIONS_PER_TENANT"))
        .count();
  }

  static void waitUntil(String what, Callable<Boolean> c) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!c.call()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(50);
    }
  }

  /** Slots a tenant holds on all gateways, as Redis counts them. */
  static long held(String tenant) {
    io.lettuce.core.RedisClient c = io.lettuce.core.RedisClient.create(stack.redisUri());
    try (var conn = c.connect()) {
      return conn.sync().hvals("limits:subscriptions:" + tenant).stream()
          .mapToLong(Long::parseLong)
          .sum();
    } finally {
      c.shutdown();
    }
  }

  @Test
  void subscriptionsOverBothGatewaysHitThePerTenantCap() throws Exception {
    GatewayTest.Frames fa = new GatewayTest.Frames();
    GatewayTest.Frames fb = new GatewayTest.Frames();
    WebSocket wa = socket(a, fa, "tok-s");
    WebSocket wb = socket(b, fb, "tok-s");
    send(wa, subscribe(0, 3)); // 3 of 4 on gateway a
    waitUntil("a's 3 slots", () -> held("subs") == 3);
    send(wb, subscribe(3, 6)); // 1 more fits on b, 2 are refused
    waitUntil("b's refusals", () -> capErrors(fb) == 2);
    assertEquals(4, held("subs"));
    assertEquals(0, capErrors(fa));
    assertEquals(2, fb.frames.size(), "only the refusals: " + fb.frames);

    // Another tenant on the same gateways is unaffected.
    GatewayTest.Frames other = new GatewayTest.Frames();
    WebSocket wo = socket(b, other, "tok-b");
    send(wo, subscribe(0, PER_TENANT));
    waitUntil("the other tenant's slots", () -> held("other") == PER_TENANT);
    assertEquals(0, capErrors(other), other.frames.toString());

    // Closing a's connection frees its 3 slots, on every gateway.
    wa.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(10, TimeUnit.SECONDS);
    waitUntil("a's slots to be released", () -> held("subs") == 1);
    GatewayTest.Frames fb2 = new GatewayTest.Frames();
    WebSocket wb2 = socket(b, fb2, "tok-s");
    send(wb2, subscribe(10, 13));
    waitUntil("3 more slots", () -> held("subs") == 4);
    assertEquals(0, capErrors(fb2));
    send(wb2, subscribe(13, 14));
    waitUntil("the cap again", () -> capErrors(fb2) == 1);
    assertEquals(4, held("subs"));
  }

  @Test
  void slotsOfAGatewayThatDiedStopCountingButALiveOnesDo() throws Exception {
    io.lettuce.core.RedisClient c = io.lettuce.core.RedisClient.create(stack.redisUri());
    try (var conn = c.connect()) {
      var r = conn.sync();
      long now = Long.parseLong(r.time().get(0));
      // A gateway that took 3 slots and died (its heartbeat expired long ago), and a live one
      // holding 1.
      r.zadd(TenantLimits.GATEWAYS, now - 60, "gw-dead");
      r.zadd(TenantLimits.GATEWAYS, now + 60, "gw-live");
      r.hset("limits:subscriptions:ghost", Map.of("gw-dead", "3", "gw-live", "1"));
      GatewayTest.Frames f = new GatewayTest.Frames();
      WebSocket ws = socket(a, f, "tok-g");
      send(ws, subscribe(0, PER_TENANT));
      // 4 - 1 (the live gateway's) = 3 granted, 1 refused; the dead gateway's field is gone.
      waitUntil("the refusal", () -> capErrors(f) == 1);
      assertEquals(Map.of("gw-live", "1"), withoutOwn(r.hgetall("limits:subscriptions:ghost")));
      assertEquals(4, held("ghost"));
    } finally {
      c.shutdown();
    }
  }

  /** The fields of gateways other than the two under test. */
  static Map<String, String> withoutOwn(Map<String, String> fields) {
    Map<String, String> m = new java.util.HashMap<>(fields);
    m.keySet().removeIf(k -> k.startsWith("gw-") && !k.equals("gw-live") && !k.equals("gw-dead"));
    return m;
  }

  @Test
  void onlyEventsThatHoldToTheSchemaReachSubscribers() throws Exception {
    GatewayTest.Frames f = new GatewayTest.Frames();
    WebSocket ws = socket(a, f, "tok-e");
    send(ws, "{\"subscribe\":[{\"jobId\":\"ev-1\",\"afterSeq\":-1}]}");
    String ok =
        "{\"jobId\":\"ev-1\",\"tenant\":\"evt\",\"kind\":\"state\",\"state\":\"queued\","
            + "\"jobType\":\"generate\",\"time\":\"2026-12-05T00:00:00Z\"";
    List<byte[]> invalid =
        List.of(
            // seq not a number
            (ok + ",\"seq\":\"5\"}").getBytes(StandardCharsets.UTF_8),
            // a kind the schema does not have
            (ok.replace("\"state\",\"state\"", "\"bogus\",\"state\"") + ",\"seq\":6}")
                .getBytes(StandardCharsets.UTF_8),
            // no state
            (ok.replace("\"state\":\"queued\",", "") + ",\"seq\":7}")
                .getBytes(StandardCharsets.UTF_8),
            // a tenant that is not a tenant name
            (ok.replace("\"evt\"", "\"evt/../x\"") + ",\"seq\":8}")
                .getBytes(StandardCharsets.UTF_8),
            // a result of the wrong shape
            (ok + ",\"seq\":9,\"result\":{\"imageBlobIds\":\"img-x\"}}")
                .getBytes(StandardCharsets.UTF_8),
            // negative seq
            (ok + ",\"seq\":-10}").getBytes(StandardCharsets.UTF_8),
            // not JSON
            "{\"jobId\":\"ev-1\",".getBytes(StandardCharsets.UTF_8));
    try (KafkaProducer<String, byte[]> p =
        new KafkaProducer<>(
            Map.of("bootstrap.servers", stack.bootstrapServers(), "acks", "all"),
            new StringSerializer(),
            new ByteArraySerializer())) {
      // Valid, with a field this gateway does not know (a newer producer's): kept.
      p.send(event((ok + ",\"seq\":1,\"futureField\":{\"x\":1}}").getBytes(), "1", "job-event"))
          .get();
      for (byte[] v : invalid) {
        p.send(event(v, "1", "job-event")).get();
      }
      // A valid value under a missing or wrong schema header.
      p.send(event((ok + ",\"seq\":11}").getBytes(), null, "job-event")).get();
      p.send(event((ok + ",\"seq\":12}").getBytes(), "1", "train-request")).get();
      // The last one, valid: when it arrives, every record before it has been read.
      p.send(event((ok + ",\"seq\":20,\"state\":\"running\"}").getBytes(), "1", "job-event")).get();
    }
    waitUntil("the last event", () -> f.events().size() >= 2 || seqs(f).contains(20L));
    Thread.sleep(300);
    assertEquals(List.of(1L, 20L), seqs(f), f.frames.toString());

    String metrics =
        new String(
            GatewayHttp.call("http://127.0.0.1:" + a.port(), "GET", "/metrics", null, null).body(),
            StandardCharsets.UTF_8);
    long dropped =
        metrics
            .lines()
            .filter(l -> l.startsWith("perfusion_gateway_events_dropped_total{"))
            .mapToLong(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1)))
            .sum();
    assertEquals(invalid.size() + 2, dropped, metrics);
    assertTrue(
        metrics.contains("perfusion_gateway_events_dropped_total{field=\"/seq\"} 2"), metrics);
  }

  static List<Long> seqs(GatewayTest.Frames f) {
    return f.events().stream().map(e -> e.get("seq").asLong()).toList();
  }

  static ProducerRecord<String, byte[]> event(byte[] value, String version, String schema) {
    ProducerRecord<String, byte[]> r = new ProducerRecord<>(topics.events(), "ev-1", value);
    r.headers().add("perfusion-schema", schema.getBytes(StandardCharsets.UTF_8));
    if (version != null) {
      r.headers().add("perfusion-schema-version", version.getBytes(StandardCharsets.UTF_8));
    }
    return r;
  }
}
