package org.perfusionjobs.worker;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.kafka.client.producer.KafkaProducer;
import io.vertx.kafka.client.producer.KafkaProducerRecord;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.FieldError;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.TenantScope;
import org.perfusionjobs.infra.Topics;

/**
 * Writes job events, concept registry entries and dead-letter records with the Vert.x Kafka
 * producer (safe to call from the intake and model threads). Record key = job id (concept id in
 * the registry, {@code <tenant>/<conceptId>}); schema name and version go in headers.
 */
public final class EventPublisher {
  private final KafkaProducer<String, byte[]> producer;
  private final Topics topics;

  public EventPublisher(Vertx vertx, String bootstrap, Topics topics) {
    this.producer = KafkaProducer.create(vertx, Map.of(
        "bootstrap.servers", bootstrap,
        "key.serializer", "org.apache.kafka.common.serialization.StringSerializer",
        "value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer",
        "acks", "all",
        "linger.ms", "0",
        "enable.idempotence", "true"));
    this.topics = topics;
  }

  public Future<Void> event(JobEvent e) {
    return send(topics.events(), e.jobId(), json(e), Schemas.JOB_EVENT);
  }

  public Future<Void> concept(ConceptRegistered c) {
    // Keyed by tenant and id: compaction keeps one entry per (tenant, concept), and no tenant can replace another's.
    return send(topics.concepts(), TenantScope.of(c.tenant(), c.conceptId()), json(c), Schemas.CONCEPT_REGISTERED);
  }

  /** The original record, unchanged, with provenance headers saying where it came from and why it was rejected. */
  public Future<Void> deadLetter(ConsumerRecord<String, byte[]> original, FieldError error) {
    KafkaProducerRecord<String, byte[]> r = KafkaProducerRecord.create(topics.deadLetter(), original.key(), original.value());
    original.headers().forEach(h -> r.addHeader(h.key(), io.vertx.core.buffer.Buffer.buffer(h.value())));
    r.addHeader(Headers.DLQ_REASON, error.reason());
    r.addHeader(Headers.DLQ_FIELD, error.field());
    r.addHeader(Headers.DLQ_TOPIC, original.topic());
    r.addHeader(Headers.DLQ_PARTITION, Integer.toString(original.partition()));
    r.addHeader(Headers.DLQ_OFFSET, Long.toString(original.offset()));
    return producer.send(r).mapEmpty();
  }

  private Future<Void> send(String topic, String key, byte[] value, String schema) {
    KafkaProducerRecord<String, byte[]> r = KafkaProducerRecord.create(topic, key, value);
    r.addHeader(Headers.SCHEMA, schema);
    r.addHeader(Headers.VERSION, "1");
    return producer.send(r).mapEmpty();
  }

  static byte[] json(Object o) {
    try {
      return Schemas.json().writeValueAsBytes(o);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static String jsonString(Object o) {
    return new String(json(o), StandardCharsets.UTF_8);
  }

  public Future<Void> close() {
    return producer.close();
  }
}
