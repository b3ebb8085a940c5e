package org.perfusionjobs.worker;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.perfusionjobs.contracts.Headers;

/** Produces requests the way an upstream application does. */
final class Producer implements AutoCloseable {
  private final KafkaProducer<String, byte[]> p;

  Producer(String bootstrap) {
    p = new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap, "acks", "all", "max.request.size", "2000000"), new StringSerializer(), new ByteArraySerializer());
  }

  void send(String topic, String key, String schema, String version, String json) throws Exception {
    send(topic, key, schema, version, json.getBytes(StandardCharsets.UTF_8));
  }

  void send(String topic, String key, String schema, String version, byte[] value) throws Exception {
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
