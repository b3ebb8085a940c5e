package org.perfusionjobs.infra;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.contracts.Topics;

/**
 * The real broker and redis-server start, hold the topics, queue through a share group, and stop.
 */
class LocalStackTest {
  static LocalStack stack;

  @BeforeAll
  static void start() throws Exception {
    stack = LocalStack.start(new Topics("t."));
  }

  @AfterAll
  static void stop() {
    if (stack != null) {
      stack.close();
      assertFalse(stack.kafka().isRunning(), "broker process must be gone");
      assertFalse(stack.redis().ping(), "redis must be gone");
    }
  }

  @Test
  void topicsExistAndTheRegistryIsCompacted() throws Exception {
    try (Admin admin = TopicSetup.admin(stack.bootstrapServers())) {
      assertTrue(
          admin.listTopics().names().get(10, TimeUnit.SECONDS).containsAll(stack.topics().all()));
      ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, stack.topics().concepts());
      Config c = admin.describeConfigs(List.of(r)).all().get(10, TimeUnit.SECONDS).get(r);
      assertEquals("compact", c.get("cleanup.policy").value());
    }
    assertTrue(stack.bootstrapServers().startsWith("127.0.0.1:"));
  }

  @Test
  void redisHasAMemoryCapAndEvictsLikeACache() throws Exception {
    try (Socket sock = new Socket(InetAddress.getLoopbackAddress(), stack.redis().port())) {
      sock.setSoTimeout(2000);
      sock.getOutputStream().write("CONFIG GET maxmemory*\r\n".getBytes(StandardCharsets.US_ASCII));
      byte[] buf = new byte[512];
      int n = sock.getInputStream().read(buf);
      String reply = new String(buf, 0, n, StandardCharsets.US_ASCII);
      assertTrue(reply.contains("\r\nmaxmemory\r\n$9\r\n268435456\r\n"), reply);
      assertTrue(reply.contains("allkeys-lru"), reply);
    }
  }

  @Test
  void shareGroupQueuesRecordsOneAtATime() throws Exception {
    String topic = stack.topics().generate();
    try (KafkaProducer<String, String> p = producer()) {
      p.send(new ProducerRecord<>(topic, "job-1", "{\"n\":1}")).get();
      p.send(new ProducerRecord<>(topic, "job-2", "{\"n\":2}")).get();
    }
    Properties props = new Properties();
    props.put("bootstrap.servers", stack.bootstrapServers());
    props.put("group.id", LocalStack.WORKER_GROUP + "-generate");
    props.put("share.acknowledgement.mode", "explicit");
    props.put("share.acquire.mode", "record_limit");
    props.put("max.poll.records", "1");
    try (KafkaShareConsumer<String, String> c =
        new KafkaShareConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
      c.subscribe(List.of(topic));
      Set<String> seen = new HashSet<>();
      long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
      while (seen.size() < 2 && System.nanoTime() < deadline) {
        ConsumerRecords<String, String> recs = c.poll(Duration.ofMillis(500));
        assertTrue(recs.count() <= 1, "record_limit mode hands out one record per poll");
        for (ConsumerRecord<String, String> r : recs) {
          seen.add(r.key());
          c.acknowledge(r, AcknowledgeType.ACCEPT);
        }
        c.commitSync();
      }
      assertEquals(Set.of("job-1", "job-2"), seen);
    }
  }

  @Test
  void redisRestartsOnTheSamePort() throws Exception {
    int port = stack.redis().port();
    assertTrue(stack.redis().ping());
    stack.redis().restart();
    assertEquals(port, stack.redis().port());
    assertTrue(stack.redis().ping());
  }

  private static KafkaProducer<String, String> producer() {
    return new KafkaProducer<>(
        Map.of("bootstrap.servers", stack.bootstrapServers()),
        new StringSerializer(),
        new StringSerializer());
  }
}
