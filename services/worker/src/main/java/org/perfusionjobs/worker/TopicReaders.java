package org.perfusionjobs.worker;

import io.vertx.core.Vertx;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

/** A consumer that reads a whole topic from its beginning, for state every worker keeps in full. */
final class TopicReaders {
  private TopicReaders() {}

  static KafkaConsumer<String, byte[]> fromStart(
      Vertx vertx, String bootstrap, String groupPrefix) {
    KafkaConsumer<String, byte[]> c =
        KafkaConsumer.create(
            vertx,
            Map.of(
                "bootstrap.servers", bootstrap,
                "group.id", groupPrefix + UUID.randomUUID(),
                "auto.offset.reset", "earliest",
                "enable.auto.commit", "false",
                "key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer",
                "value.deserializer",
                    "org.apache.kafka.common.serialization.ByteArrayDeserializer"));
    c.pollTimeout(Duration.ofMillis(100));
    return c;
  }
}
