package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.contracts.TrainRequest.ImageRef;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.testdata.TestData;

/**
 * Attacks on the worker with a real broker, redis-server and HTTP servers on loopback: a slow and
 * an oversized image URL, a userinfo allow-list bypass, private addresses, a decompression bomb,
 * budgets, the same job id from two tenants, and an invalid request that must reach its owner.
 */
class WorkerSecurityTest {
  static final Duration WAIT = Duration.ofSeconds(90);
  static final Duration FETCH_DEADLINE = Duration.ofSeconds(2);
  static final int FETCH_MAX = 256 * 1024;
  static LocalStack stack;
  static Vertx vertx;
  static WorkerVerticle worker;
  static Producer producer;
  static EventLog events;
  static Topics topics;
  static ServerSocket server;
  static final ExecutorService serving =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "test-http");
            t.setDaemon(true);
            return t;
          });
  static byte[] okPng;

  @BeforeAll
  static void start() throws Exception {
    okPng = png(32, 32);
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    serving.submit(WorkerSecurityTest::serve);
    topics = new Topics("wsec.");
    stack = LocalStack.start(topics);
    String served = "http://127.0.0.1:" + server.getLocalPort() + "/img/";
    WorkerConfig cfg =
        WorkerConfig.local(stack.bootstrapServers(), stack.redisUri(), topics, TestData.sdTinyRef())
            .withCaptions(Path.of("../../config/captions/sd-tiny-ref.txt").toAbsolutePath())
            .withRenewInterval(Duration.ofSeconds(2))
            .withUrlAllowList(List.of(served, "http://images.example.com"))
            .withLimits(
                WorkerConfig.Limits.DEFAULTS
                    .withFetchPrivateAddresses(true)
                    .withFetch(FETCH_DEADLINE, FETCH_MAX));
    vertx = Vertx.vertx();
    worker = new WorkerVerticle(cfg);
    vertx.deployVerticle(worker).await();
    producer = new Producer(stack.bootstrapServers(), topics);
    events = new EventLog(stack.bootstrapServers(), topics.events());
  }

  @AfterAll
  static void stop() throws Exception {
    if (events != null) {
      events.close();
      producer.close();
    }
    if (vertx != null) {
      vertx.close().await();
    }
    if (stack != null) {
      stack.close();
    }
    if (server != null) {
      server.close();
    }
    serving.shutdownNow();
  }

  static byte[] png(int w, int h) throws IOException {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_BINARY);
    Graphics2D g = img.createGraphics();
    g.setColor(Color.WHITE);
    g.fillOval(w / 8, h / 8, w / 2, h / 2);
    g.dispose();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }

  /**
   * A tiny HTTP server: /img/ok.png answers an image, /img/slow drips one byte every 300 ms,
   * /img/huge declares 2.5 GB, /img/endless streams without a length.
   */
  static void serve() {
    while (!server.isClosed()) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        return;
      }
      serving.submit(() -> answer(s));
    }
  }

  static void answer(Socket s) {
    try (s) {
      s.setSoTimeout(10_000);
      InputStream in = s.getInputStream();
      StringBuilder head = new StringBuilder();
      int c;
      while (head.length() < 8192
          && !head.toString().endsWith("\r\n\r\n")
          && (c = in.read()) >= 0) {
        head.append((char) c);
      }
      String path = head.toString().split(" ", 3)[1];
      OutputStream out = s.getOutputStream();
      switch (path) {
        case "/img/ok.png" -> {
          out.write(
              ("HTTP/1.0 200 OK\r\nContent-Type: image/png\r\nContent-Length: "
                      + okPng.length
                      + "\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
          out.write(okPng);
        }
        case "/img/slow" -> {
          out.write(
              "HTTP/1.0 200 OK\r\nContent-Type: image/png\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
          out.flush();
          for (int i = 0; i < 100; i++) { // at most 30 s, then the connection closes
            out.write(okPng[i % okPng.length]);
            out.flush();
            Thread.sleep(300);
          }
        }
        case "/img/huge" -> {
          out.write(
              "HTTP/1.0 200 OK\r\nContent-Type: image/png\r\nContent-Length: 2500000000\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
          byte[] chunk = new byte[64 * 1024];
          for (int i = 0; i < 160; i++) { // at most 10 MB, then the connection closes
            out.write(chunk);
          }
        }
        case "/img/endless" -> {
          out.write(
              "HTTP/1.0 200 OK\r\nContent-Type: image/png\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
          byte[] chunk = new byte[64 * 1024];
          for (int i = 0; i < 160; i++) { // at most 10 MB, then the connection closes
            out.write(chunk);
          }
        }
        default ->
            out.write(
                "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
      }
      out.flush();
    } catch (IOException | InterruptedException | RuntimeException e) {
      // the client hung up: expected for the refused ones
    }
  }

  static String train(String jobId, String tenant, String image) {
    return "{\"jobId\":\""
        + jobId
        + "\",\"tenant\":\""
        + tenant
        + "\",\"conceptName\":\"zwx\",\"superclass\":\"car\",\"images\":["
        + image
        + "],"
        + "\"steps\":2,\"options\":{\"batchSize\":1,\"gradientAccumulation\":1}}";
  }

  static String url(String path) {
    return "{\"url\":\"http://127.0.0.1:" + server.getLocalPort() + path + "\"}";
  }

  @Test
  void slowAndOversizedUrlsFailFastWithOneAnswerAndTheWorkerStaysHealthy() throws Exception {
    long started = System.nanoTime();
    producer.request(Schemas.TRAIN_REQUEST, train("url-slow", "acme", url("/img/slow")));
    producer.request(Schemas.TRAIN_REQUEST, train("url-huge", "acme", url("/img/huge")));
    producer.request(Schemas.TRAIN_REQUEST, train("url-endless", "acme", url("/img/endless")));
    producer.request(Schemas.TRAIN_REQUEST, train("url-404", "acme", url("/img/none")));
    String reason = null;
    for (String id : List.of("url-slow", "url-huge", "url-endless", "url-404")) {
      JobEvent e = events.awaitTerminal(id, WAIT);
      assertEquals(JobEvent.FAILED, e.state(), id + ": " + e);
      assertEquals("/images/0/url", e.error().field(), id);
      if (reason == null) {
        reason = e.error().reason();
      }
      assertEquals(
          reason, e.error().reason(), "every URL failure reads the same (no oracle): " + id);
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    assertTrue(
        seconds < 4 * FETCH_DEADLINE.toSeconds() + 20, "four refused URLs took " + seconds + " s");
    producer.request(Schemas.TRAIN_REQUEST, train("url-ok", "acme", url("/img/ok.png")));
    assertEquals(
        JobEvent.SUCCEEDED,
        events.awaitTerminal("url-ok", WAIT).state(),
        "a good URL still trains after them");
    HttpResponse<String> ready =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + worker.httpPort() + "/health/ready"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertEquals(200, ready.statusCode(), ready.body());
  }

  @Test
  void userinfoCannotSmuggleAnotherHostPastTheAllowList() throws Exception {
    String sneaky =
        "{\"url\":\"http://images.example.com@127.0.0.1:"
            + server.getLocalPort()
            + "/img/ok.png\"}";
    producer.request(Schemas.TRAIN_REQUEST, train("url-userinfo", "acme", sneaky));
    JobEvent e = events.awaitTerminal("url-userinfo", WAIT);
    assertEquals(JobEvent.FAILED, e.state(), String.valueOf(e));
    assertEquals("/images/0/url", e.error().field());
  }

  @Test
  void privateAddressesAreRefusedUnlessTheSwitchAllowsThem() throws Exception {
    String served = "http://127.0.0.1:" + server.getLocalPort() + "/img/";
    ImageFetcher strict =
        new ImageFetcher(
            null,
            List.of(served, "http://localhost:" + server.getLocalPort() + "/img/"),
            WorkerConfig.Limits.DEFAULTS,
            1 << 22);
    for (String u :
        List.of(served + "ok.png", "http://localhost:" + server.getLocalPort() + "/img/ok.png")) {
      JobFailure f =
          assertThrows(
              JobFailure.class,
              () -> strict.fetch("acme", new ImageRef(null, null, u), "/images/0"),
              u);
      assertEquals("/images/0/url", f.error().field());
    }
    ImageFetcher tests =
        new ImageFetcher(
            null,
            List.of(served),
            WorkerConfig.Limits.DEFAULTS.withFetchPrivateAddresses(true),
            1 << 22);
    assertEquals(
        32,
        tests.fetch("acme", new ImageRef(null, null, served + "ok.png"), "/images/0").getWidth());
    for (String bad :
        List.of(
            served + "../secret",
            served + "%2e%2e/secret",
            "http://127.0.0.1:" + server.getLocalPort() + "/imgx/ok.png",
            "https://127.0.0.1:" + server.getLocalPort() + "/img/ok.png",
            "http://127.0.0.1:" + (server.getLocalPort() + 1) + "/img/ok.png")) {
      assertThrows(
          JobFailure.class,
          () -> tests.fetch("acme", new ImageRef(null, null, bad), "/images/0"),
          bad);
    }
    assertTrue(
        !ImageFetcher.isPublic(InetAddress.getByName("169.254.169.254"))
            && !ImageFetcher.isPublic(InetAddress.getByName("10.1.2.3"))
            && !ImageFetcher.isPublic(InetAddress.getByName("::ffff:127.0.0.1"))
            && !ImageFetcher.isPublic(InetAddress.getByName("fd00::1"))
            && !ImageFetcher.isPublic(InetAddress.getByName("100.64.0.1"))
            && ImageFetcher.isPublic(InetAddress.getByName("93.184.216.34")));
  }

  @Test
  void aDecompressionBombIsRefusedBeforeDecoding() throws Exception {
    byte[] bomb = png(3000, 3000); // 9 Mpx, a few KB
    assertTrue(bomb.length < 300_000, "bomb of " + bomb.length + " bytes");
    producer.request(
        Schemas.TRAIN_REQUEST,
        train("bomb", "acme", "{\"base64\":\"" + Base64.getEncoder().encodeToString(bomb) + "\"}"));
    JobEvent e = events.awaitTerminal("bomb", WAIT);
    assertEquals(JobEvent.FAILED, e.state(), String.valueOf(e));
    assertEquals("/images/0/base64", e.error().field());
    assertTrue(e.error().reason().contains("pixels"), e.error().reason());
  }

  @Test
  void overBudgetRequestsAreRefusedByTheWorkerWithTheFieldNamed() throws Exception {
    producer.request(
        Schemas.GENERATE_REQUEST,
        "{\"jobId\":\"too-big\",\"tenant\":\"acme\",\"prompt\":\"a toy"
            + " car\",\"steps\":2,\"width\":128,\"height\":128}");
    producer.request(
        Schemas.TRAIN_REQUEST,
        "{\"jobId\":\"too-long\",\"tenant\":\"acme\",\"conceptName\":\"zwx\",\"superclass\":\"car\","
            + "\"images\":[{\"base64\":\""
            + Base64.getEncoder().encodeToString(okPng)
            + "\"}],\"steps\":5000,\"options\":{\"batchSize\":16,\"gradientAccumulation\":16}}");
    JobEvent big = events.awaitTerminal("too-big", WAIT);
    assertEquals(JobEvent.FAILED, big.state(), String.valueOf(big));
    assertEquals("/width", big.error().field());
    JobEvent lng = events.awaitTerminal("too-long", WAIT);
    assertEquals(JobEvent.FAILED, lng.state(), String.valueOf(lng));
    assertEquals("/steps", lng.error().field());
  }

  @Test
  void theSameJobIdFromTwoTenantsRunsAsTwoJobs() throws Exception {
    for (String[] t : new String[][] {{"acme", "1"}, {"other", "2"}}) {
      producer.request(
          Schemas.GENERATE_REQUEST,
          "{\"jobId\":\"twin\",\"tenant\":\""
              + t[0]
              + "\",\"prompt\":\"a toy car\",\"steps\":2,\"seed\":"
              + t[1]
              + "}");
    }
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline
        && events.events("twin").stream()
                .filter(e -> e.terminal())
                .map(JobEvent::tenant)
                .distinct()
                .count()
            < 2) {
      Thread.sleep(100);
    }
    List<JobEvent> done = events.events("twin").stream().filter(JobEvent::terminal).toList();
    assertTrue(
        done.stream()
            .anyMatch(e -> "acme".equals(e.tenant()) && JobEvent.SUCCEEDED.equals(e.state())),
        String.valueOf(done));
    assertTrue(
        done.stream()
            .anyMatch(e -> "other".equals(e.tenant()) && JobEvent.SUCCEEDED.equals(e.state())),
        String.valueOf(done));
    RedisClient client = RedisClient.create(stack.redisUri());
    try (StatefulRedisConnection<String, byte[]> c =
        client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE))) {
      byte[] a = c.sync().get("blob:acme/img-twin-0");
      byte[] b = c.sync().get("blob:other/img-twin-0");
      assertNotNull(a);
      assertNotNull(b);
      assertTrue(!Arrays.equals(a, b), "each tenant has its own image");
    } finally {
      client.shutdown();
    }
  }

  @Test
  void aRequestWithAnUnknownFieldFailsVisiblyToItsOwner() throws Exception {
    producer.unchecked(
        Schemas.GENERATE_REQUEST,
        "extra-field",
        "{\"jobId\":\"extra-field\",\"tenant\":\"acme\",\"prompt\":\"a toy"
            + " car\",\"colour\":\"red\"}");
    JobEvent e = events.awaitTerminal("extra-field", WAIT);
    assertEquals(JobEvent.FAILED, e.state());
    assertEquals("acme", e.tenant(), "the failure goes to the tenant the request names");
    assertEquals("/colour", e.error().field());
  }
}
