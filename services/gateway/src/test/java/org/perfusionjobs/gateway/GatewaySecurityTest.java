package org.perfusionjobs.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.vertx.core.Vertx;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.testdata.TestData;
import org.perfusionjobs.worker.WorkerConfig;
import org.perfusionjobs.worker.WorkerVerticle;

/**
 * Attacks on the gateway with a real broker, redis-server, worker and (for the page) headless
 * Chromium: tenants that share ids, subscriptions to ids of others, bodies before authentication,
 * oversized requests, budgets, rate limits, origins and script injection. docs/security.md lists
 * what each one guards.
 */
@Timeout(180)
class GatewaySecurityTest {
  static final Duration WAIT = Duration.ofSeconds(90);
  static final int PER_CONNECTION = 5;
  static final int PER_TENANT = 8;
  static final int BURST = 20;
  static LocalStack stack;
  static Vertx vertx;
  static GatewayVerticle gateway;
  static Topics topics;
  static final HttpClient http = HttpClient.newHttpClient();
  static final List<WebSocket> sockets = Collections.synchronizedList(new ArrayList<>());
  static String base;
  static KafkaProducer<String, byte[]> kafka;

  @BeforeAll
  static void start() throws Exception {
    topics = new Topics("gws.");
    stack = LocalStack.start(topics);
    vertx = Vertx.vertx();
    vertx
        .deployVerticle(
            new WorkerVerticle(
                WorkerConfig.local(
                        stack.bootstrapServers(), stack.redisUri(), topics, TestData.sdTinyRef())
                    .withCaptions(
                        Path.of("../../config/captions/sd-tiny-ref.txt").toAbsolutePath())))
        .await();
    GatewayConfig cfg =
        new GatewayConfig(
                stack.bootstrapServers(),
                stack.redisUri(),
                topics,
                0,
                Map.of(
                    "token-a",
                    "acme",
                    "demo-token",
                    "acme",
                    "token-b",
                    "other",
                    "token-c",
                    "capped",
                    "token-rl",
                    "busy"),
                Duration.ofHours(1))
            .withLimits(
                GatewayConfig.Limits.DEFAULTS
                    .withSubscriptions(PER_CONNECTION, PER_TENANT)
                    .withWriteRate(0.5, BURST)
                    .withModelSize(32));
    gateway = new GatewayVerticle(cfg);
    vertx.deployVerticle(gateway).await();
    base = "http://127.0.0.1:" + gateway.port();
    kafka =
        new KafkaProducer<>(
            Map.of("bootstrap.servers", stack.bootstrapServers(), "acks", "all"),
            new StringSerializer(),
            new ByteArraySerializer());
  }

  @AfterAll
  static void stop() {
    sockets.forEach(WebSocket::abort);
    if (kafka != null) {
      kafka.close();
    }
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

  /** One request written by hand (what java.net.URI refuses to send), the whole answer back. */
  static String raw(String request) throws Exception {
    try (Socket sock = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      sock.setSoTimeout(10_000);
      sock.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      sock.getOutputStream().flush();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buf = new byte[4096];
      for (int n; out.size() < 65_536 && (n = sock.getInputStream().read(buf)) > 0; ) {
        out.write(buf, 0, n);
        if (out.toString(StandardCharsets.ISO_8859_1).contains("\r\n\r\n")
            && !out.toString(StandardCharsets.ISO_8859_1).contains("Content-Length: 0")
            && out.toString(StandardCharsets.ISO_8859_1).endsWith("}")) {
          break;
        }
      }
      return out.toString(StandardCharsets.ISO_8859_1);
    }
  }

  static String text(HttpResponse<byte[]> r) {
    return new String(r.body(), StandardCharsets.UTF_8);
  }

  static JsonNode json(HttpResponse<byte[]> r) throws Exception {
    return Schemas.json().readTree(r.body());
  }

  static WebSocket socket(GatewayTest.Frames f, String token, String origin) throws Exception {
    WebSocket.Builder b = http.newWebSocketBuilder();
    if (origin != null) {
      b.header("Origin", origin);
    }
    WebSocket ws =
        b.buildAsync(URI.create("ws://127.0.0.1:" + gateway.port() + "/v1/ws?token=" + token), f)
            .get(30, TimeUnit.SECONDS);
    sockets.add(ws);
    return ws;
  }

  static void subscribe(WebSocket ws, String... jobIds) throws Exception {
    String subs =
        String.join(
            ",", Stream.of(jobIds).map(j -> "{\"jobId\":\"" + j + "\",\"afterSeq\":-1}").toList());
    ws.sendText("{\"subscribe\":[" + subs + "]}", true).get(30, TimeUnit.SECONDS);
  }

  static byte[] png(Color c) throws Exception {
    BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setColor(c);
    g.fillOval(4, 4, 20, 20);
    g.dispose();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }

  static void waitUntil(String what, Callable<Boolean> condition) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.call()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(100);
    }
  }

  private static long files(Path dir) throws Exception {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).count();
    }
  }

  @Test
  void bodiesAreReadOnlyAfterAuthenticationAndNeverWrittenToDisk() throws Exception {
    Path uploads = Path.of("file-uploads");
    long before = files(uploads);
    String boundary = "xyzzy";
    byte[] multipart =
        ("--"
                + boundary
                + "\r\n"
                + "Content-Disposition: form-data; name=\"f\"; filename=\"a.png\"\r\n"
                + "Content-Type: image/png\r\n\r\n"
                + "x".repeat(50_000)
                + "\r\n--"
                + boundary
                + "--\r\n")
            .getBytes(StandardCharsets.UTF_8);
    for (String token : new String[] {null, "token-a"}) {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create(base + "/v1/blobs"))
              .header("Content-Type", "multipart/form-data; boundary=" + boundary)
              .POST(HttpRequest.BodyPublishers.ofByteArray(multipart));
      if (token != null) {
        b.header("Authorization", "Bearer " + token);
      }
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      assertTrue(
          r.statusCode() >= 400 && r.statusCode() < 500,
          token + ": " + r.statusCode() + " " + r.body());
    }
    assertEquals(
        before, files(uploads), "no uploaded file may be written to " + uploads.toAbsolutePath());

    // 17 MB without a token: refused as unauthenticated before a byte of the body is read (not
    // measured against a body limit).
    // Only the headers are sent: the answer must come without waiting for the body.
    try (Socket sock = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      sock.setSoTimeout(10_000);
      sock.getOutputStream()
          .write(
              ("POST /v1/blobs HTTP/1.1\r\n"
                      + "Host: 127.0.0.1\r\n"
                      + "Content-Type: image/png\r\n"
                      + "Content-Length: "
                      + (17 * 1024 * 1024)
                      + "\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      sock.getOutputStream().flush();
      byte[] buf = new byte[4096];
      int n = sock.getInputStream().read(buf);
      String answer = n < 0 ? "" : new String(buf, 0, n, StandardCharsets.ISO_8859_1);
      assertTrue(answer.startsWith("HTTP/1.1 401"), answer);
    }
  }

  @Test
  void jobRequestsOverTheRecordLimitAreRefusedWith413() throws Exception {
    String image = "{\"base64\":\"" + "A".repeat(470_000) + "\"}";
    byte[] body =
        ("{\"conceptName\":\"zwx\",\"superclass\":\"car\",\"images\":["
                + image
                + ","
                + image
                + "],\"steps\":2}")
            .getBytes(StandardCharsets.UTF_8);
    assertTrue(body.length > Schemas.MAX_REQUEST_BYTES && body.length < 1_000_000);
    HttpResponse<byte[]> r = call("POST", "/v1/jobs/train", "token-a", body);
    assertEquals(413, r.statusCode(), text(r));
    assertTrue(text(r).contains(Integer.toString(Schemas.MAX_REQUEST_BYTES)), text(r));
  }

  @Test
  void malformedRequestsGetOneLineWithoutAStackTrace() throws Exception {
    List<HttpResponse<byte[]>> answers = new ArrayList<>();
    answers.add(
        call(
            "POST",
            "/v1/jobs/generate",
            "token-a",
            "{\"prompt\":".getBytes(StandardCharsets.UTF_8)));
    answers.add(
        call("POST", "/v1/jobs/generate", "token-a", new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1}));
    answers.add(call("GET", "/v1/jobs/" + "x".repeat(300), "token-a", null));
    HttpRequest noBoundary =
        HttpRequest.newBuilder(URI.create(base + "/v1/blobs"))
            .header("Authorization", "Bearer token-a")
            .header("Content-Type", "multipart/form-data")
            .POST(HttpRequest.BodyPublishers.ofString("--\r\n\r\n"))
            .build();
    answers.add(http.send(noBoundary, HttpResponse.BodyHandlers.ofByteArray()));
    for (HttpResponse<byte[]> a : answers) {
      String body = text(a);
      assertTrue(
          a.statusCode() >= 400 && a.statusCode() < 500,
          a.uri() + ": " + a.statusCode() + " " + body);
      assertFalse(
          body.contains("Exception") || body.contains("\tat ") || body.contains("\n"),
          a.uri() + ": " + body);
    }
    for (String line :
        new String[] {
          "GET /v1/jobs/%E0%A4%A/images/x HTTP/1.1",
          "GET /v1/jobs/a%00b HTTP/1.1",
          "POST /v1/jobs/generate HTTP/1.1"
        }) {
      String answer =
          raw(
              line
                  + "\r\n"
                  + "Host: 127.0.0.1\r\n"
                  + "Authorization: Bearer token-a\r\n"
                  + "Content-Type: application/json\r\n"
                  + "Content-Length: 3\r\n"
                  + "Connection: close\r\n\r\n"
                  + "{\"x");
      assertTrue(answer.matches("(?s)HTTP/1.1 4\\d\\d .*"), line + ": " + answer);
      String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
      assertFalse(
          body.contains("Exception") || body.contains("\tat ") || body.strip().contains("\n"),
          line + ": " + body);
    }
  }

  @Test
  void aSubscriptionToAnotherTenantsIdGetsNothingAndBothTenantsRunTheirOwnJob() throws Exception {
    GatewayTest.Frames spy = new GatewayTest.Frames();
    WebSocket early = socket(spy, "token-b", null);
    subscribe(early, "shared-1"); // before acme's job exists
    assertEquals(
        202,
        call(
                "POST",
                "/v1/jobs/generate",
                "token-a",
                "{\"jobId\":\"shared-1\",\"prompt\":\"a toy car\",\"steps\":2,\"seed\":1}"
                    .getBytes())
            .statusCode());
    GatewayTest.Frames owner = new GatewayTest.Frames();
    subscribe(socket(owner, "token-a", null), "shared-1");
    owner.awaitState("succeeded");
    Thread.sleep(500);
    assertTrue(spy.frames.isEmpty(), "another tenant's subscriber got " + spy.frames);

    // The same id from the other tenant is its own job: accepted, run, and its image is its own.
    HttpResponse<byte[]> second =
        call(
            "POST",
            "/v1/jobs/generate",
            "token-b",
            "{\"jobId\":\"shared-1\",\"prompt\":\"a toy car\",\"steps\":2,\"seed\":2}".getBytes());
    assertEquals(202, second.statusCode(), text(second));
    spy.awaitState("succeeded");
    assertTrue(
        spy.events().stream().allMatch(e -> "other".equals(e.get("tenant").asText())),
        "only its own events: " + spy.events());
    byte[] mine = call("GET", "/v1/jobs/shared-1/images/0", "token-a", null).body();
    byte[] theirs = call("GET", "/v1/jobs/shared-1/images/0", "token-b", null).body();
    assertEquals(32, ImageIO.read(new ByteArrayInputStream(mine)).getWidth());
    assertEquals(32, ImageIO.read(new ByteArrayInputStream(theirs)).getWidth());
    assertFalse(Arrays.equals(mine, theirs), "two jobs (seeds 1 and 2), two images");
    assertEquals(
        "acme", json(call("GET", "/v1/jobs/shared-1", "token-a", null)).get("tenant").asText());
    assertEquals(
        "other", json(call("GET", "/v1/jobs/shared-1", "token-b", null)).get("tenant").asText());
  }

  @Test
  void anotherTenantsIdAnswersExactlyLikeAnUnknownOne() throws Exception {
    assertEquals(
        202,
        call(
                "POST",
                "/v1/jobs/generate",
                "token-a",
                "{\"jobId\":\"acme-only\",\"prompt\":\"a toy car\",\"steps\":2}".getBytes())
            .statusCode());
    waitUntil(
        "acme sees its job",
        () -> call("GET", "/v1/jobs/acme-only", "token-a", null).statusCode() == 200);
    for (String[] probe :
        new String[][] {
          {"GET", "/v1/jobs/%s"},
          {"GET", "/v1/jobs/%s/images/0"},
          {"POST", "/v1/jobs/%s/cancel"},
          {"GET", "/v1/concepts/%s"},
          {"DELETE", "/v1/concepts/%s"}
        }) {
      HttpResponse<byte[]> foreign =
          call(probe[0], probe[1].formatted("acme-only"), "token-b", null);
      HttpResponse<byte[]> unknown =
          call(probe[0], probe[1].formatted("never-was"), "token-b", null);
      assertEquals(unknown.statusCode(), foreign.statusCode(), probe[0] + " " + probe[1]);
      assertEquals(
          text(unknown).replace("never-was", "ID"),
          text(foreign).replace("acme-only", "ID"),
          probe[0] + " " + probe[1]);
    }
    // Over the WebSocket too: neither gets a frame.
    GatewayTest.Frames f = new GatewayTest.Frames();
    subscribe(socket(f, "token-b", null), "acme-only", "never-was");
    Thread.sleep(700);
    assertTrue(f.frames.isEmpty(), String.valueOf(f.frames));
  }

  @Test
  void aTrainRequestNamingAnotherTenantsBlobFailsLikeAMissingBlobAndOnlyTheOwnerDeletesAConcept()
      throws Exception {
    HttpResponse<byte[]> up = call("POST", "/v1/blobs", "token-a", png(Color.ORANGE));
    assertEquals(201, up.statusCode(), text(up));
    String acmeBlob = json(up).get("blobId").asText();
    String missing = "acme-00000000-0000-0000-0000-000000000000";
    GatewayTest.Frames f = new GatewayTest.Frames();
    WebSocket ws = socket(f, "token-b", null);
    subscribe(ws, "steal-1", "steal-2");
    for (String[] job : new String[][] {{"steal-1", acmeBlob}, {"steal-2", missing}}) {
      HttpResponse<byte[]> r =
          call(
              "POST",
              "/v1/jobs/train",
              "token-b",
              ("{\"jobId\":\""
                      + job[0]
                      + "\",\"conceptName\":\"sks\",\"superclass\":\"bird\","
                      + "\"images\":[{\"blobId\":\""
                      + job[1]
                      + "\"}],\"steps\":2,\"options\":{\"batchSize\":1,\"gradientAccumulation\":1}}")
                  .getBytes());
      assertEquals(202, r.statusCode(), text(r));
    }
    waitUntil(
        "both train jobs end",
        () ->
            f.events().stream()
                    .filter(
                        e ->
                            "failed".equals(e.get("state").asText())
                                || "succeeded".equals(e.get("state").asText()))
                    .map(e -> e.get("jobId").asText())
                    .distinct()
                    .count()
                == 2);
    JsonNode stolen =
        f.events().stream()
            .filter(
                e ->
                    "steal-1".equals(e.get("jobId").asText())
                        && !"progress".equals(e.get("kind").asText()))
            .reduce((a, b) -> b)
            .orElseThrow();
    JsonNode absent =
        f.events().stream()
            .filter(
                e ->
                    "steal-2".equals(e.get("jobId").asText())
                        && !"progress".equals(e.get("kind").asText()))
            .reduce((a, b) -> b)
            .orElseThrow();
    assertEquals(
        "failed", stolen.get("state").asText(), "another tenant's blob must not train: " + stolen);
    assertEquals("/images/0/blobId", stolen.get("error").get("field").asText());
    assertEquals(
        absent.get("error").get("reason").asText().replace(missing, "ID"),
        stolen.get("error").get("reason").asText().replace(acmeBlob, "ID"));

    // The owner trains with it; only the owner can delete the concept, which removes its registry
    // entry.
    GatewayTest.Frames own = new GatewayTest.Frames();
    subscribe(socket(own, "token-a", null), "own-train");
    assertEquals(
        202,
        call(
                "POST",
                "/v1/jobs/train",
                "token-a",
                ("{\"jobId\":\"own-train\",\"conceptName\":\"sks\",\"superclass\":\"bird\","
                        + "\"images\":[{\"blobId\":\""
                        + acmeBlob
                        + "\"}],\"steps\":2,\"options\":{\"batchSize\":1,\"gradientAccumulation\":1}}")
                    .getBytes())
            .statusCode());
    own.awaitState("succeeded");
    waitUntil(
        "the concept is listed",
        () -> call("GET", "/v1/concepts/own-train", "token-a", null).statusCode() == 200);
    assertEquals(404, call("DELETE", "/v1/concepts/own-train", "token-b", null).statusCode());
    assertEquals(204, call("DELETE", "/v1/concepts/own-train", "token-a", null).statusCode());
    assertEquals(404, call("GET", "/v1/concepts/own-train", "token-a", null).statusCode());
  }

  @Test
  void subscriptionsAreCappedPerConnectionAndPerTenant() throws Exception {
    GatewayTest.Frames first = new GatewayTest.Frames();
    WebSocket a = socket(first, "token-c", null);
    subscribe(a, "c-0", "c-1", "c-2", "c-3", "c-4", "c-5");
    waitUntil("the sixth is refused", () -> first.frames.size() == 1);
    assertTrue(first.frames.get(0).toString().contains("per connection"), first.frames.toString());
    GatewayTest.Frames second = new GatewayTest.Frames();
    WebSocket b = socket(second, "token-c", null);
    subscribe(b, "d-0", "d-1", "d-2", "d-3", "d-4");
    waitUntil(
        "two over the tenant cap are refused",
        () -> second.frames.size() == PER_CONNECTION + PER_CONNECTION - PER_TENANT);
    assertTrue(
        second.frames.stream().allMatch(x -> x.toString().contains("per tenant")),
        second.frames.toString());
    // Thousands in one message cost no more than the cap.
    String many =
        String.join(
            ",", IntStream.range(0, 2000).mapToObj(i -> "{\"jobId\":\"m-" + i + "\"}").toList());
    a.sendText("{\"subscribe\":[" + many + "]}", true).get(30, TimeUnit.SECONDS);
    b.sendClose(WebSocket.NORMAL_CLOSURE, "").get(30, TimeUnit.SECONDS);
    Thread.sleep(500);
    GatewayTest.Frames third = new GatewayTest.Frames();
    subscribe(socket(third, "token-c", null), "e-0", "e-1", "e-2");
    Thread.sleep(700);
    assertTrue(third.frames.isEmpty(), "room again after a connection closed: " + third.frames);
  }

  @Test
  void budgetsAreRefusedAtTheGatewayWithTheFieldNamed() throws Exception {
    Map<String, String> over =
        Map.of(
            "{\"prompt\":\"x\",\"width\":2048,\"height\":2048}", "/width",
            "{\"prompt\":\"x\",\"width\":64,\"height\":64,\"imageCount\":3}", "/imageCount",
            "{\"prompt\":\"x\",\"steps\":150}", "/steps");
    for (Map.Entry<String, String> e : over.entrySet()) {
      HttpResponse<byte[]> r = call("POST", "/v1/jobs/generate", "token-a", e.getKey().getBytes());
      assertEquals(400, r.statusCode(), e.getKey() + " " + text(r));
      assertEquals(e.getValue(), json(r).get("field").asText(), text(r));
      assertTrue(json(r).get("reason").asText().contains("budget"), text(r));
    }
    HttpResponse<byte[]> train =
        call(
            "POST",
            "/v1/jobs/train",
            "token-a",
            ("{\"conceptName\":\"zwx\",\"superclass\":\"car\",\"images\":[{\"blobId\":\"x\"}],"
                    + "\"steps\":5000,\"options\":{\"batchSize\":16,\"gradientAccumulation\":16}}")
                .getBytes());
    assertEquals(400, train.statusCode(), text(train));
    assertEquals("/steps", json(train).get("field").asText());
  }

  @Test
  void writesAreRateLimitedPerTenant() throws Exception {
    int refused = 0;
    for (int i = 0; i < BURST + 3; i++) {
      if (call("POST", "/v1/jobs/generate", "token-rl", "{}".getBytes()).statusCode() == 429) {
        refused++;
      }
    }
    assertTrue(refused >= 2, "writes over the burst must be refused with 429, got " + refused);
    assertNotEquals(
        429,
        call("POST", "/v1/jobs/generate", "token-b", "{}".getBytes()).statusCode(),
        "another tenant is not limited by this one");
  }

  @Test
  void everyAnswerCarriesSecurityHeadersAndTheWebSocketChecksTheOrigin() throws Exception {
    for (String path : new String[] {"/", "/v1/jobs/x"}) {
      HttpResponse<byte[]> r = call("GET", path, path.equals("/") ? null : "token-a", null);
      String csp = r.headers().firstValue("Content-Security-Policy").orElse("");
      assertTrue(
          csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
          path + ": " + csp);
      assertEquals("nosniff", r.headers().firstValue("X-Content-Type-Options").orElse(""), path);
    }
    assertFalse(
        text(call("GET", "/", null, null)).contains("demo-token"),
        "the page must not carry a token");
    Exception e =
        assertThrows(
            Exception.class,
            () -> socket(new GatewayTest.Frames(), "token-a", "http://evil.example"));
    Throwable cause = e.getCause() != null ? e.getCause() : e;
    assertTrue(
        cause instanceof WebSocketHandshakeException h && h.getResponse().statusCode() == 403,
        String.valueOf(cause));
    socket(new GatewayTest.Frames(), "token-a", "http://127.0.0.1:" + gateway.port()).abort();
  }

  @Test
  void eventFieldsTheGatewayDoesNotKnowAreIgnored() throws Exception {
    String event =
        "{\"jobId\":\"ext-1\",\"tenant\":\"acme\",\"seq\":5,\"kind\":\"state\",\"state\":\"running\",\"jobType\":\"generate\","
            + "\"time\":\"2026-12-05T00:00:00Z\",\"worker\":\"w\",\"fieldFromTheFuture\":{\"a\":1}}";
    // Not a valid v1 event (v1 has no such field): what a later version's worker may write beside
    // this gateway.
    kafka
        .send(
            new RecordCodec.Outgoing(
                    Schemas.JOB_EVENT,
                    RecordCodec.version(Schemas.JOB_EVENT),
                    "ext-1",
                    event.getBytes(StandardCharsets.UTF_8))
                .toProducerRecord(topics))
        .get(30, TimeUnit.SECONDS);
    waitUntil(
        "the event with an unknown field is read",
        () -> call("GET", "/v1/jobs/ext-1", "token-a", null).statusCode() == 200);
    assertEquals(
        "running", json(call("GET", "/v1/jobs/ext-1", "token-a", null)).get("state").asText());
  }

  /**
   * A payload that, if run, appends a marker made at run time (the marker itself is not in the
   * payload's text).
   */
  static String payload(String tag) {
    return "<img src=x onerror=\"document.title+='PW'+'NED_" + tag + "'\">";
  }

  @Test
  void scriptInWatchAndInAConceptSuperclassDoesNotRunInChromium() throws Exception {
    String chromium = HeadlessPage.chromium();
    // A concept whose superclass is markup, as a train request may name it (written straight to the
    // registry, keyed
    // the way the worker keys it, and the way it was keyed before tenant scoping).
    RecordCodec.Outgoing entry =
        RecordCodec.encode(
            new ConceptRegistered(
                "xss-concept",
                "acme",
                "zwx",
                payload("S"),
                "m",
                "h",
                0.7,
                0.15,
                "2026-12-05T00:00:00Z",
                "AAAA"));
    assertEquals("acme/xss-concept", entry.key());
    for (String key : new String[] {entry.key(), "xss-concept"}) {
      ProducerRecord<String, byte[]> r = entry.toProducerRecord(topics);
      kafka
          .send(new ProducerRecord<>(r.topic(), null, key, r.value(), r.headers()))
          .get(30, TimeUnit.SECONDS);
    }
    waitUntil(
        "the concept is listed",
        () -> text(call("GET", "/v1/concepts", "token-a", null)).contains("xss-concept"));
    String url =
        base
            + "/?watch="
            + URLEncoder.encode(payload("W"), StandardCharsets.UTF_8)
            + "#token=demo-token";
    Path profile = Files.createTempDirectory("chromium-profile");
    Process p =
        new ProcessBuilder(
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
                "--user-data-dir=" + profile,
                "--virtual-time-budget=8000",
                "--dump-dom",
                url)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    byte[] out;
    try {
      out = p.getInputStream().readAllBytes();
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chromium did not finish");
    } finally {
      p.destroyForcibly();
      try (Stream<Path> s = Files.walk(profile)) {
        s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
    String dom = new String(out, StandardCharsets.UTF_8);
    assertFalse(dom.contains("PWNED_W"), "the ?watch= payload ran:\n" + dom);
    assertFalse(dom.contains("PWNED_S"), "the superclass payload ran:\n" + dom);
    // The page did show both values, as text.
    assertTrue(
        dom.contains("&lt;img src=x onerror=\"document.title+='PW'+'NED_W'\"&gt;"),
        "the watched id is shown as text:\n" + dom);
    assertTrue(
        dom.contains("zwx (&lt;img src=x onerror=\"document.title+='PW'+'NED_S'\"&gt;)"),
        "the concept is listed as text:\n" + dom);
  }
}
