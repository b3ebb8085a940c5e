package org.perfusionjobs.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.vertx.core.Vertx;
import java.awt.Color;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;

/**
 * The page's forms, used in headless Chromium against a real gateway and broker: what a user types,
 * selects and uploads is what the queued request carries (read back from the job topics), and a
 * refusal is shown on the page with its field.
 */
@Timeout(240)
class GatewayPageTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  static LocalStack stack;
  static Vertx vertx;
  static Topics topics;
  static String base;
  static KafkaConsumer<String, byte[]> requests;

  @BeforeAll
  static void start() throws Exception {
    topics = new Topics("gwp.");
    stack = LocalStack.start(topics);
    vertx = Vertx.vertx();
    GatewayVerticle gateway =
        new GatewayVerticle(
            new GatewayConfig(
                stack.bootstrapServers(),
                stack.redisUri(),
                topics,
                0,
                Map.of("demo-token", "acme"),
                Duration.ofHours(1)));
    vertx.deployVerticle(gateway).await();
    base = "http://127.0.0.1:" + gateway.port();
    // A concept of the tenant's, registered as a worker registers one, for the form's list.
    try (KafkaProducer<String, byte[]> kafka =
        new KafkaProducer<>(
            Map.of("bootstrap.servers", stack.bootstrapServers(), "acks", "all"),
            new StringSerializer(),
            new ByteArraySerializer())) {
      for (String[] c :
          new String[][] {{"page-concept", "zwx", "star"}, {"page-xbt", "xbt", "square"}}) {
        kafka
            .send(
                RecordCodec.encode(
                        new ConceptRegistered(
                            c[0],
                            "acme",
                            c[1],
                            c[2],
                            "m",
                            "h",
                            0.7,
                            0.15,
                            "2026-12-06T00:00:00Z",
                            "AAAA"))
                    .toProducerRecord(topics))
            .get(30, TimeUnit.SECONDS);
      }
    }
    requests =
        new KafkaConsumer<>(
            Map.of(
                "bootstrap.servers",
                stack.bootstrapServers(),
                "group.id",
                "page-test-" + UUID.randomUUID(),
                "auto.offset.reset",
                "earliest"),
            new StringDeserializer(),
            new ByteArrayDeserializer());
    requests.subscribe(List.of(topics.generate()));
  }

  @AfterAll
  static void stop() {
    if (requests != null) {
      requests.close();
    }
    if (vertx != null) {
      vertx.close().await();
    }
    if (stack != null) {
      stack.close();
    }
  }

  /** The queued generate request whose prompt is {@code prompt}. */
  static ConsumerRecord<String, byte[]> queued(String prompt) throws Exception {
    return queued(requests, "prompt", prompt);
  }

  /** The first record {@code from} reads whose JSON field {@code field} is {@code value}. */
  static ConsumerRecord<String, byte[]> queued(
      KafkaConsumer<String, byte[]> from, String field, String value) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      for (ConsumerRecord<String, byte[]> r : from.poll(Duration.ofMillis(200))) {
        if (value.equals(Schemas.json().readTree(r.value()).path(field).asText())) {
          return r;
        }
      }
    }
    throw new AssertionError("no request with " + field + " '" + value + "' was queued");
  }

  /** Waits until the page shows a refusal naming the field first; returns the message. */
  static String refusalShown(HeadlessPage page, String field) throws Exception {
    page.await(
        "the refusal is shown",
        "document.getElementById('error').textContent.startsWith('" + field + "')");
    return page.eval("document.getElementById('error').textContent").asText();
  }

  /** Nothing whose field has this value arrives on the consumer's topic within two seconds. */
  static void assertNotQueued(KafkaConsumer<String, byte[]> consumer, String field, String value)
      throws Exception {
    for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofSeconds(2))) {
      assertFalse(
          value.equals(Schemas.json().readTree(r.value()).path(field).asText()),
          "a refused request was queued: " + value);
    }
  }

  static String header(ConsumerRecord<String, byte[]> r, String name) {
    Header h = r.headers().lastHeader(name);
    return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }

  /**
   * The train form uploads the chosen images as blobs and queues a request naming them; a flip mode
   * other than auto goes with it (version 3), auto is left out (an older version); a key rate goes
   * with it (version 4), empty is left out, and one out of range is refused with its field.
   */
  @Test
  void theTrainFormUploadsTheImagesAndQueuesTheOptionsChosen() throws Exception {
    try (KafkaConsumer<String, byte[]> train =
            new KafkaConsumer<>(
                Map.of(
                    "bootstrap.servers",
                    stack.bootstrapServers(),
                    "group.id",
                    "page-train-" + UUID.randomUUID(),
                    "auto.offset.reset",
                    "earliest"),
                new StringDeserializer(),
                new ByteArrayDeserializer());
        HeadlessPage page = HeadlessPage.open(base + "/#token=demo-token")) {
      train.subscribe(List.of(topics.train()));
      page.await(
          "the page is loaded",
          "document.readyState === 'complete' && document.getElementById('flip') !== null");
      Map<String, byte[]> files = new LinkedHashMap<>();
      files.put("left.png", GatewaySecurityTest.png(Color.RED));
      files.put("right.png", GatewaySecurityTest.png(Color.BLUE));
      page.type("word", "pgf");
      page.type("superclass", "dog");
      page.type("tsteps", "40");
      page.attach("files", files);
      page.choose("flip", "always");
      page.click("train");
      ConsumerRecord<String, byte[]> always = queued(train, "conceptName", "pgf");
      JsonNode a = Schemas.json().readTree(always.value());
      assertEquals("acme", a.get("tenant").asText());
      assertEquals("dog", a.get("superclass").asText());
      assertEquals(40, a.get("steps").asInt());
      assertEquals(2, a.get("images").size(), a.toString());
      for (JsonNode img : a.get("images")) {
        assertTrue(img.has("blobId") && !img.has("base64"), a.toString());
      }
      assertEquals("always", a.get("options").get("flip").asText(), a.toString());
      assertEquals("3", header(always, Headers.VERSION), "a request with flip is version 3");

      page.type("word", "pga");
      page.choose("flip", "auto");
      page.click("train");
      ConsumerRecord<String, byte[]> auto = queued(train, "conceptName", "pga");
      JsonNode b = Schemas.json().readTree(auto.value());
      assertFalse(b.get("options").has("flip"), b.toString());
      assertEquals("1", header(auto, Headers.VERSION), "auto is left out: version 1");

      page.type("word", "pgk");
      page.type("keyrate", "0.1");
      page.click("train");
      ConsumerRecord<String, byte[]> soft = queued(train, "conceptName", "pgk");
      JsonNode k = Schemas.json().readTree(soft.value());
      assertEquals(0.1, k.get("options").get("keyRate").asDouble(), 0.0, k.toString());
      assertFalse(k.get("options").has("flip"), k.toString());
      assertEquals("4", header(soft, Headers.VERSION), "a request with keyRate is version 4");

      page.type("word", "pgr");
      page.type("keyrate", "2");
      page.click("train");
      String shown = refusalShown(page, "/options/keyRate");
      assertTrue(shown.contains("1"), "the refusal names the limit: " + shown);
      assertNotQueued(train, "conceptName", "pgr");
    }
  }

  @Test
  void theGenerateFormQueuesWhatWasTypedAndShowsARefusalWithItsField() throws Exception {
    try (HeadlessPage page = HeadlessPage.open(base + "/#token=demo-token")) {
      page.await(
          "the tenant's concepts are listed",
          "document.querySelectorAll('#concept option').length === 2");
      page.type("prompt", "a zwx on the left, guided");
      page.type("negative", "a blue circle");
      page.choose("concept", "page-concept");
      page.type("beta", "0.5");
      page.type("cguidance", "2");
      page.click("generate");
      ConsumerRecord<String, byte[]> guided = queued("a zwx on the left, guided");
      JsonNode g = Schemas.json().readTree(guided.value());
      assertEquals("acme", g.get("tenant").asText());
      assertEquals("a blue circle", g.get("negativePrompt").asText());
      assertEquals(2.0, g.get("conceptGuidance").asDouble(), 0.0);
      assertEquals(1, g.get("concepts").size(), g.toString());
      assertEquals("page-concept", g.get("concepts").get(0).get("conceptId").asText());
      assertEquals(0.5, g.get("concepts").get(0).get("beta").asDouble(), 0.0);
      assertEquals("4", header(guided, Headers.VERSION), "a request that uses it is version 4");

      // Empty is off: the field is left out and the request is written as an older version.
      // Two concepts selected: both go with the request, each with the beta.
      page.type("prompt", "a zwx on the left, plain");
      page.choose("concept", "page-concept", "page-xbt");
      page.type("negative", "");
      page.type("cguidance", "");
      page.click("generate");
      ConsumerRecord<String, byte[]> plain = queued("a zwx on the left, plain");
      JsonNode p = Schemas.json().readTree(plain.value());
      assertFalse(p.has("conceptGuidance"), p.toString());
      assertEquals("", p.path("negativePrompt").asText(""), p.toString());
      assertTrue(Integer.parseInt(header(plain, Headers.VERSION)) < 4, plain.toString());
      assertEquals(2, p.get("concepts").size(), p.toString());
      Set<String> ids = new HashSet<>();
      for (JsonNode c : p.get("concepts")) {
        ids.add(c.get("conceptId").asText());
        assertEquals(0.5, c.get("beta").asDouble(), 0.0);
      }
      assertEquals(Set.of("page-concept", "page-xbt"), ids);

      // Out of range: the gateway refuses it, nothing is queued, and the page says which field.
      page.type("prompt", "a zwx on the left, refused");
      page.type("cguidance", "31");
      page.click("generate");
      String shown = refusalShown(page, "/conceptGuidance");
      assertTrue(shown.contains("30"), "the refusal names the limit: " + shown);
      assertNotQueued(requests, "prompt", "a zwx on the left, refused");
      // The next accepted request clears the message; none selected: the base model.
      page.choose("concept");
      page.type("cguidance", "3");
      page.type("prompt", "a zwx on the left, again");
      page.click("generate");
      JsonNode again = Schemas.json().readTree(queued("a zwx on the left, again").value());
      assertEquals(3.0, again.get("conceptGuidance").asDouble(), 0.0);
      assertEquals(0, again.path("concepts").size(), again.toString());
      page.await("the message is cleared", "document.getElementById('error').textContent === ''");
    }
  }
}
