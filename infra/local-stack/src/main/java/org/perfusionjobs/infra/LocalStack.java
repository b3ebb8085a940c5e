package org.perfusionjobs.infra;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.perfusionjobs.contracts.Topics;

/**
 * The local stack of the tests and the all-in-one main job: a real redis-server and a real Kafka
 * broker on loopback, with the topics created and the worker share group configured.
 */
public final class LocalStack implements AutoCloseable {
  public static final String WORKER_GROUP = "perfusion-workers";
  private final RedisServer redis;
  private final KafkaBroker kafka;
  private final Topics topics;
  private final AtomicBoolean closed = new AtomicBoolean();
  // Child processes outlive a JVM that exits without close() (Ctrl-C): stop them on the way out.
  private final Thread shutdownHook = new Thread(this::close, "local-stack-shutdown");

  private LocalStack(RedisServer redis, KafkaBroker kafka, Topics topics) {
    this.redis = redis;
    this.kafka = kafka;
    this.topics = topics;
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /** The stack on free loopback ports (tests, the demo). */
  public static LocalStack start(Topics topics) throws Exception {
    return start(topics, 0, 0);
  }

  /**
   * The stack with the broker on {@code kafkaPort} and redis-server on {@code redisPort} (0: a free
   * port).
   */
  public static LocalStack start(Topics topics, int kafkaPort, int redisPort) throws Exception {
    RedisServer redis = RedisServer.start(redisPort);
    KafkaBroker kafka = null;
    try {
      kafka = KafkaBroker.start(kafkaPort);
      TopicSetup.createTopics(kafka.bootstrapServers(), topics, 3);
      // One share group per job topic (see the worker's JobIntake).
      TopicSetup.configureShareGroup(kafka.bootstrapServers(), WORKER_GROUP + "-train", topics, 5);
      TopicSetup.configureShareGroup(
          kafka.bootstrapServers(), WORKER_GROUP + "-generate", topics, 5);
      return new LocalStack(redis, kafka, topics);
    } catch (Exception e) {
      if (kafka != null) {
        kafka.close();
      }
      redis.close();
      throw e;
    }
  }

  public String bootstrapServers() {
    return kafka.bootstrapServers();
  }

  public String redisUri() {
    return redis.uri();
  }

  public RedisServer redis() {
    return redis;
  }

  public KafkaBroker kafka() {
    return kafka;
  }

  public Topics topics() {
    return topics;
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException shuttingDown) {
      // called from the hook itself
    }
    kafka.close();
    redis.close();
  }

  /**
   * Runs the stack until Ctrl-C, printing its addresses. The ports are those of {@code
   * PERFUSION_KAFKA} ({@code host:port}) and {@code PERFUSION_REDIS} ({@code redis://host:port})
   * when set, so that {@code scripts/service stack config/local.env} listens where the services of
   * that file look; free ports otherwise. The topics take {@code PERFUSION_TOPIC_PREFIX}.
   */
  public static void main(String[] args) throws Exception {
    java.util.Map<String, String> env = System.getenv();
    Topics topics =
        env.containsKey("PERFUSION_TOPIC_PREFIX")
            ? new Topics(env.get("PERFUSION_TOPIC_PREFIX"))
            : Topics.defaults();
    try (LocalStack stack =
        start(topics, portOf(env.get("PERFUSION_KAFKA")), portOf(env.get("PERFUSION_REDIS")))) {
      System.out.println("kafka " + stack.bootstrapServers());
      System.out.println("redis " + stack.redisUri());
      CountDownLatch done = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(done::countDown));
      done.await();
    } catch (IOException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(1);
    }
  }

  /** The port of {@code host:port} or {@code redis://host:port}, 0 if none is given. */
  static int portOf(String address) {
    if (address == null || address.isBlank()) {
      return 0;
    }
    String a = address.strip();
    int slash = a.indexOf("://");
    if (slash >= 0) {
      a = a.substring(slash + 3);
    }
    a = a.replaceAll("[/?].*$", "");
    int colon = a.lastIndexOf(':');
    if (colon < 0 || a.contains(",")) {
      throw new IllegalArgumentException(
          "the local stack needs one host:port, got '" + address + "'");
    }
    return Integer.parseInt(a.substring(colon + 1));
  }
}
