package org.perfusionjobs.gateway;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.perfusionjobs.contracts.ClientSecurity;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.KafkaConnection;
import org.perfusionjobs.contracts.KafkaSecurity;
import org.perfusionjobs.contracts.RedisSecurity;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Secret;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.FreePorts;
import org.perfusionjobs.infra.KafkaBroker;
import org.perfusionjobs.infra.RedisServer;
import org.perfusionjobs.infra.TopicSetup;
import org.perfusionjobs.worker.EventPublisher;
import org.perfusionjobs.worker.RedisStore;

/**
 * Kafka and Redis credentials from config (issue 20), against a real broker with SASL_PLAINTEXT and
 * SASL_SSL listeners (PLAIN and SCRAM users) and a real redis-server with {@code requirepass}, an
 * ACL user and a TLS port, all on 127.0.0.1, with a self-signed certificate made here by openssl.
 * The worker's publisher and Redis store and the gateway's producer, consumers, admin client and
 * Redis client are built through the settings path ({@code PERFUSION_*} maps) the services use.
 */
@Timeout(180)
class ClientCredentialsTest {
  static final String KAFKA_PASSWORD = "alice-Secret-1";
  static final String SCRAM_PASSWORD = "bob-Secret-2";
  static final String REDIS_PASSWORD = "redis-Secret-3";
  static final String ACL_PASSWORD = "carol-Secret-4";
  static Path dir;
  static KafkaBroker broker;
  static RedisServer redis;
  static int redisTlsPort;
  static Topics topics = new Topics("cred.");

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("perfusion-cred");
    // A self-signed certificate for 127.0.0.1: PEM for redis-server and the clients' trust, PKCS12
    // for the broker.
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem");
    openssl(
        "pkcs12",
        "-export",
        "-in",
        "cert.pem",
        "-inkey",
        "key.pem",
        "-name",
        "broker",
        "-passout",
        "pass:store-pw",
        "-out",
        "broker.p12");
    broker =
        KafkaBroker.start(
            0,
            new KafkaBroker.Secured(
                Map.of("alice", KAFKA_PASSWORD), dir.resolve("broker.p12"), "store-pw"));
    TopicSetup.createTopics(broker.bootstrapServers(), topics, 1);
    broker.addScramUser("SCRAM-SHA-256", "bob", SCRAM_PASSWORD);
    redisTlsPort = FreePorts.next();
    redis =
        RedisServer.start(
            0,
            List.of(
                "--requirepass",
                REDIS_PASSWORD,
                "--user",
                "dave",
                "on",
                ">" + ACL_PASSWORD,
                "~*",
                "&*",
                "+@all",
                "-@scripting",
                "--user",
                "carol",
                "on",
                ">" + ACL_PASSWORD,
                "~*",
                "&*",
                "+@all",
                "--tls-port",
                Integer.toString(redisTlsPort),
                "--tls-cert-file",
                dir.resolve("cert.pem").toString(),
                "--tls-key-file",
                dir.resolve("key.pem").toString(),
                "--tls-auth-clients",
                "no"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (broker != null) {
      broker.close();
    }
    if (redis != null) {
      redis.close();
    }
  }

  static void openssl(String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Process p =
        new ProcessBuilder(cmd)
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("openssl.log").toFile())
            .start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "openssl finished");
    assertEquals(0, p.exitValue(), Files.readString(dir.resolve("openssl.log")));
  }

  static Map<String, String> saslEnv(String mechanism, String user, String password) {
    return Map.of(
        "PERFUSION_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT",
        "PERFUSION_KAFKA_SASL_MECHANISM", mechanism,
        "PERFUSION_KAFKA_USERNAME", user,
        "PERFUSION_KAFKA_PASSWORD", password);
  }

  /** Produces one record and reads it back through clients built by {@code kafka}. */
  static String roundTrip(KafkaConnection kafka) throws Exception {
    String value = "v-" + UUID.randomUUID();
    try (KafkaProducer<String, String> p =
            new KafkaProducer<>(
                kafka.objectConfig(Map.of("max.block.ms", 15000, "acks", "all")),
                new StringSerializer(),
                new StringSerializer());
        KafkaConsumer<String, String> c =
            new KafkaConsumer<>(
                kafka.objectConfig(
                    Map.of(
                        "group.id",
                        "cred-" + UUID.randomUUID(),
                        "auto.offset.reset",
                        "earliest",
                        "default.api.timeout.ms",
                        15000)),
                new StringDeserializer(),
                new StringDeserializer())) {
      p.send(new ProducerRecord<>(topics.deadLetter(), "k", value)).get(20, TimeUnit.SECONDS);
      c.subscribe(List.of(topics.deadLetter()));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
          if (r.value().equals(value)) {
            return r.value();
          }
        }
      }
      return "not read back";
    }
  }

  @Test
  void kafkaClientsAuthenticateWithPlainScramAndTls() throws Exception {
    KafkaConnection plain =
        new KafkaConnection(
            broker.securedBootstrapServers(),
            KafkaSecurity.from(saslEnv("PLAIN", "alice", KAFKA_PASSWORD)));
    assertTrue(roundTrip(plain).startsWith("v-"), "SASL/PLAIN");
    KafkaConnection scram =
        new KafkaConnection(
            broker.securedBootstrapServers(),
            KafkaSecurity.from(saslEnv("SCRAM-SHA-256", "bob", SCRAM_PASSWORD)));
    assertTrue(roundTrip(scram).startsWith("v-"), "SASL/SCRAM-SHA-256");
    // TLS with the host name checked against the certificate's 127.0.0.1 and only our CA trusted.
    Map<String, String> tls = new HashMap<>(saslEnv("PLAIN", "alice", KAFKA_PASSWORD));
    tls.put("PERFUSION_KAFKA_SECURITY_PROTOCOL", "SASL_SSL");
    tls.put("PERFUSION_KAFKA_TRUSTSTORE", dir.resolve("cert.pem").toString());
    KafkaConnection overTls =
        new KafkaConnection(broker.tlsBootstrapServers(), KafkaSecurity.from(tls));
    assertTrue(roundTrip(overTls).startsWith("v-"), "SASL_SSL");
  }

  @Test
  void kafkaRefusesWrongCredentials() {
    for (Map<String, String> env :
        List.of(
            saslEnv("PLAIN", "alice", "wrong"),
            saslEnv("SCRAM-SHA-256", "bob", "wrong"),
            saslEnv("PLAIN", "mallory", KAFKA_PASSWORD))) {
      KafkaConnection k =
          new KafkaConnection(broker.securedBootstrapServers(), KafkaSecurity.from(env));
      Exception e = assertThrows(Exception.class, () -> roundTrip(k));
      assertTrue(causes(e).contains("SaslAuthenticationException"), env + " refused: " + causes(e));
    }
    // Without SASL settings the client cannot talk to the SASL listener at all.
    assertThrows(
        Exception.class, () -> roundTrip(KafkaConnection.plain(broker.securedBootstrapServers())));
  }

  static String causes(Throwable e) {
    StringBuilder s = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      s.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage()).append(" / ");
    }
    return s.toString();
  }

  Map<String, String> gatewayEnv(Path kafkaPasswordFile, Path redisPasswordFile) {
    Map<String, String> env = new HashMap<>();
    env.put("PERFUSION_KAFKA", broker.securedBootstrapServers());
    env.put("PERFUSION_REDIS", redis.uri());
    env.put("PERFUSION_TOPIC_PREFIX", topics.prefix());
    env.put("PERFUSION_GATEWAY_PORT", "0");
    env.put("PERFUSION_TOKENS", "tok:acme");
    env.put("PERFUSION_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT");
    env.put("PERFUSION_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256");
    env.put("PERFUSION_KAFKA_USERNAME", "bob");
    env.put("PERFUSION_KAFKA_PASSWORD_FILE", kafkaPasswordFile.toString());
    if (redisPasswordFile != null) {
      env.put("PERFUSION_REDIS_PASSWORD_FILE", redisPasswordFile.toString());
    }
    return env;
  }

  @Test
  void gatewayAndWorkerRunOnCredentialsFromFiles() throws Exception {
    Path kafkaPw = Files.writeString(dir.resolve("kafka.pw"), SCRAM_PASSWORD + "\n");
    Path redisPw = Files.writeString(dir.resolve("redis.pw"), REDIS_PASSWORD + "\n");
    GatewayConfig cfg = GatewayConfig.from(gatewayEnv(kafkaPw, redisPw));
    for (String secret : List.of(SCRAM_PASSWORD, REDIS_PASSWORD, "tok")) {
      assertFalse(cfg.toString().contains(secret), "config text shows no secret: " + cfg);
    }
    Vertx vertx = Vertx.vertx();
    try {
      GatewayVerticle gw = new GatewayVerticle(cfg);
      vertx.deployVerticle(gw).await();
      String base = "http://127.0.0.1:" + gw.port();
      var ready = GatewayHttp.call(base, "GET", "/health/ready", null, null);
      assertEquals("200 ready", ready.statusCode() + " " + new String(ready.body()));

      // The worker's event publisher, over SASL with the same settings, and the gateway's
      // consumer reading the event back.
      EventPublisher publisher =
          new EventPublisher(vertx, cfg.kafka(), topics, Duration.ofSeconds(60));
      publisher
          .event(JobEvent.queued(new JobEvent.Job("cred-job", "acme", "generate", "w"), 5))
          .await();
      String state = "";
      for (long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
          System.nanoTime() < deadline && !state.equals("queued"); ) {
        var r = GatewayHttp.call(base, "GET", "/v1/jobs/cred-job", "tok", null);
        if (r.statusCode() == 200) {
          JsonNode job = Schemas.json().readTree(r.body());
          state = job.path("state").asText();
        } else {
          Thread.sleep(200);
        }
      }
      assertEquals("queued", state);
      publisher.close().await();

      // The gateway's producer: a job request is accepted (queued on the broker).
      var posted =
          GatewayHttp.call(
              base,
              "POST",
              "/v1/jobs/generate",
              "tok",
              "{\"prompt\":\"a cat\",\"steps\":2}".getBytes(StandardCharsets.UTF_8));
      assertEquals(202, posted.statusCode(), new String(posted.body()));
    } finally {
      vertx.close().await();
    }
  }

  @Test
  void gatewayWithoutTheRedisPasswordFailsInOneLineNamingTheSetting() throws Exception {
    Path kafkaPw = Files.writeString(dir.resolve("kafka2.pw"), SCRAM_PASSWORD);
    Vertx vertx = Vertx.vertx();
    try {
      Exception none =
          assertThrows(
              Exception.class,
              () ->
                  vertx
                      .deployVerticle(
                          new GatewayVerticle(GatewayConfig.from(gatewayEnv(kafkaPw, null))))
                      .await());
      assertEquals(
          "Redis requires a password: set PERFUSION_REDIS_PASSWORD (or"
              + " PERFUSION_REDIS_PASSWORD_FILE), and PERFUSION_REDIS_USERNAME for an ACL user",
          none.getMessage());
      Path wrong = Files.writeString(dir.resolve("wrong.pw"), "nope");
      Exception bad =
          assertThrows(
              Exception.class,
              () ->
                  vertx
                      .deployVerticle(
                          new GatewayVerticle(GatewayConfig.from(gatewayEnv(kafkaPw, wrong))))
                      .await());
      assertTrue(
          bad.getMessage().startsWith("Redis refused the login: check PERFUSION_REDIS_PASSWORD"),
          bad.getMessage());
      assertFalse(bad.getMessage().contains("\n"));
    } finally {
      vertx.close().await();
    }
  }

  @Test
  void aRedisUserThatMayNotRunScriptsStopsTheGatewayInOneLine() throws Exception {
    Path kafkaPw = Files.writeString(dir.resolve("kafka3.pw"), SCRAM_PASSWORD);
    Map<String, String> env = gatewayEnv(kafkaPw, null);
    env.put("PERFUSION_REDIS_USERNAME", "dave");
    env.put("PERFUSION_REDIS_PASSWORD", ACL_PASSWORD);
    Vertx vertx = Vertx.vertx();
    try {
      Exception e =
          assertThrows(
              Exception.class,
              () -> vertx.deployVerticle(new GatewayVerticle(GatewayConfig.from(env))).await());
      assertTrue(e.getMessage().contains("+@scripting"), e.getMessage());
      assertFalse(e.getMessage().contains("\n"), e.getMessage());
    } finally {
      vertx.close().await();
    }
  }

  @Test
  void workerRedisStoreUsesAnAclUserOverVerifiedTls() throws Exception {
    String tlsUri = "rediss://127.0.0.1:" + redisTlsPort;
    RedisSecurity acl =
        RedisSecurity.from(
            Map.of(
                "PERFUSION_REDIS_USERNAME",
                "carol",
                "PERFUSION_REDIS_PASSWORD",
                ACL_PASSWORD,
                "PERFUSION_REDIS_CA_FILE",
                dir.resolve("cert.pem").toString()));
    byte[] png = {1, 2, 3};
    try (RedisStore store = new RedisStore(tlsUri, acl, Duration.ofSeconds(5))) {
      store.putBlob("acme", "b1", png, Duration.ofMinutes(1));
      assertArrayEquals(png, store.blob("acme", "b1"));
    }
    // Plain port, the default user's password.
    try (RedisStore store =
        new RedisStore(
            redis.uri(),
            new RedisSecurity(null, new Secret(REDIS_PASSWORD), false, null, null),
            Duration.ofSeconds(5))) {
      assertArrayEquals(png, store.blob("acme", "b1"));
    }
    // Our CA not given: the JVM does not trust the self-signed certificate.
    RedisSecurity untrusted =
        new RedisSecurity("carol", new Secret(ACL_PASSWORD), false, "FULL", null);
    IllegalStateException tls =
        assertThrows(
            IllegalStateException.class,
            () -> new RedisStore(tlsUri, untrusted, Duration.ofSeconds(5)).close());
    assertEquals(
        "Redis TLS handshake failed: check PERFUSION_REDIS_TLS, PERFUSION_REDIS_CA_FILE and"
            + " PERFUSION_REDIS_VERIFY_PEER",
        tls.getMessage());
    IllegalStateException wrongUser =
        assertThrows(
            IllegalStateException.class,
            () ->
                new RedisStore(
                        redis.uri(),
                        new RedisSecurity("carol", new Secret("nope"), false, null, null),
                        Duration.ofSeconds(5))
                    .close());
    assertTrue(wrongUser.getMessage().contains("PERFUSION_REDIS_USERNAME=carol"));
    assertTrue(ClientSecurity.from(Map.of()).equals(ClientSecurity.NONE));
  }
}
