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

  public static LocalStack start(Topics topics) throws Exception {
    RedisServer redis = RedisServer.start();
    KafkaBroker kafka = null;
    try {
      kafka = KafkaBroker.start();
      TopicSetup.createTopics(kafka.bootstrapServers(), topics, 3);
      // One share group per job topic (see the worker's JobIntake).
      TopicSetup.configureShareGroup(kafka.bootstrapServers(), WORKER_GROUP + "-train", topics, 5);
      TopicSetup.configureShareGroup(kafka.bootstrapServers(), WORKER_GROUP + "-generate", topics, 5);
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

  /** Runs the stack until Ctrl-C, printing its addresses. */
  public static void main(String[] args) throws Exception {
    try (LocalStack stack = start(Topics.defaults())) {
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
}
