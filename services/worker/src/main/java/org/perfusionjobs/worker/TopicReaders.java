package org.perfusionjobs.worker;

import io.vertx.core.Vertx;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.perfusionjobs.contracts.KafkaConnection;

/** A consumer that reads a whole topic from its beginning, for state every worker keeps in full. */
final class TopicReaders {
  private TopicReaders() {}

  static KafkaConsumer<String, byte[]> fromStart(
      Vertx vertx, KafkaConnection kafka, String groupPrefix) {
    KafkaConsumer<String, byte[]> c =
        KafkaConsumer.create(
            vertx,
            kafka.config(
                Map.of(
                    "group.id", groupPrefix + UUID.randomUUID(),
                    "auto.offset.reset", "earliest",
                    "enable.auto.commit", "false",
                    "key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer",
                    "value.deserializer",
                        "org.apache.kafka.common.serialization.ByteArrayDeserializer")));
    c.pollTimeout(Duration.ofMillis(100));
    return c;
  }
}
