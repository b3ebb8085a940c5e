package org.perfusionjobs.worker;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;

/**
 * Produces requests the way an upstream application does ({@link #request}: through the contract's
 * {@link RecordCodec}), or the way any Kafka client can ({@link #unchecked}, {@link #raw}) for the
 * records a worker must reject.
 */
final class Producer implements AutoCloseable {
  private final KafkaProducer<String, byte[]> p;
  private final Topics topics;

  Producer(String bootstrap, Topics topics) {
    this.p =
        new KafkaProducer<>(
            Map.of("bootstrap.servers", bootstrap, "acks", "all", "max.request.size", "2000000"),
            new StringSerializer(),
            new ByteArraySerializer());
    this.topics = topics;
  }

  /**
   * A valid request (the test fails at once if its JSON breaks the schema): topic, key and headers
   * as the codec writes them.
   */
  void request(String schema, String json) throws Exception {
    JsonNode value = Schemas.json().readTree(json);
    p.send(RecordCodec.encode(schema, value).toProducerRecord(topics)).get();
  }

  /**
   * A value the worker must reject, with the key and the headers of the schema's current version.
   */
  void unchecked(String schema, String key, String value) throws Exception {
    unchecked(schema, key, value.getBytes(StandardCharsets.UTF_8));
  }

  void unchecked(String schema, String key, byte[] value) throws Exception {
    p.send(
            new RecordCodec.Outgoing(schema, RecordCodec.version(schema), key, value)
                .toProducerRecord(topics))
        .get();
  }

  /** Any record: a null schema or version leaves that header out. */
  void raw(String topic, String key, String schema, String version, String value) throws Exception {
    raw(topic, key, schema, version, value.getBytes(StandardCharsets.UTF_8));
  }

  void raw(String topic, String key, String schema, String version, byte[] value) throws Exception {
    ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, key, value);
    if (schema != null) {
      r.headers().add(Headers.SCHEMA, schema.getBytes(StandardCharsets.UTF_8));
    }
    if (version != null) {
      r.headers().add(Headers.VERSION, version.getBytes(StandardCharsets.UTF_8));
    }
    p.send(r).get();
  }

  @Override
  public void close() {
    p.close();
  }
}
