package org.perfusionjobs.worker;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.kafka.client.producer.KafkaProducer;
import io.vertx.kafka.client.producer.KafkaProducerRecord;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.FieldError;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.KafkaConnection;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Topics;

/**
 * Writes job events, concept registry entries and dead-letter records with the Vert.x Kafka
 * producer (safe to call from the intake and model threads). Record key = job id (concept id in the
 * registry, {@code <tenant>/<conceptId>}); schema name and version go in headers, all as {@link
 * RecordCodec} writes them.
 */
public final class EventPublisher {
  private final KafkaProducer<String, byte[]> producer;
  private final Topics topics;
  private final Vertx vertx;
  private final org.apache.kafka.clients.producer.KafkaProducer<byte[], byte[]> raw;
  private final Duration deliveryTimeout;

  /**
   * @param outageWait how long a record may wait for an unreachable broker before its send fails
   *     ({@code delivery.timeout.ms} and {@code max.block.ms}; at least 60 s): the idempotent
   *     producer retries in order meanwhile, so a broker outage shorter than this loses no event
   */
  public EventPublisher(Vertx vertx, KafkaConnection kafka, Topics topics, Duration outageWait) {
    this.deliveryTimeout =
        outageWait.compareTo(Duration.ofSeconds(60)) < 0 ? Duration.ofSeconds(60) : outageWait;
    String timeout = Long.toString(deliveryTimeout.toMillis());
    this.producer =
        KafkaProducer.create(
            vertx,
            kafka.config(
                Map.of(
                    "key.serializer", "org.apache.kafka.common.serialization.StringSerializer",
                    "value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer",
                    "acks", "all",
                    "linger.ms", "0",
                    "enable.idempotence", "true",
                    "delivery.timeout.ms", timeout,
                    "max.block.ms", timeout)));
    this.topics = topics;
    this.vertx = vertx;
    // Dead letters copy keys and headers as raw bytes, which the String-keyed producer above
    // cannot.
    this.raw =
        new org.apache.kafka.clients.producer.KafkaProducer<>(
            kafka.objectConfig(
                Map.of(
                    "acks", "all",
                    "linger.ms", "0",
                    "enable.idempotence", "true",
                    "delivery.timeout.ms", timeout,
                    "max.block.ms", timeout,
                    "max.request.size", "1100000")),
            new ByteArraySerializer(),
            new ByteArraySerializer());
  }

  /** How long a send may take at most before the producer reports it failed. */
  public Duration deliveryTimeout() {
    return deliveryTimeout;
  }

  public Future<Void> event(JobEvent e) {
    return send(RecordCodec.encode(e));
  }

  /**
   * A registry entry, keyed {@code <tenant>/<conceptId>}: compaction keeps one per (tenant,
   * concept), and no tenant can replace another's.
   */
  public Future<Void> concept(ConceptRegistered c) {
    return send(RecordCodec.encode(c));
  }

  /**
   * Writes the dead letter of a record and waits until the broker has it: the original key, value
   * and headers byte for byte (null header values included, hence the plain Kafka producer), plus
   * provenance headers. A value the dead-letter topic cannot take (near the 1 MB limit once the
   * headers are added) goes by reference: no value, a header saying where the original lies.
   *
   * @throws IllegalStateException if the dead letter cannot be written (an infrastructure error)
   */
  public void deadLetter(ConsumerRecord<byte[], byte[]> original, FieldError error) {
    try {
      sendDeadLetter(original, error, false);
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof RecordTooLargeException)) {
        throw new IllegalStateException(
            "could not write the dead letter of " + where(original) + ": " + e.getCause(),
            e.getCause());
      }
      try {
        sendDeadLetter(original, error, true);
      } catch (ExecutionException | TimeoutException | InterruptedException e2) {
        throw new IllegalStateException(
            "could not write the dead letter of " + where(original) + " by reference: " + e2, e2);
      }
    } catch (TimeoutException | InterruptedException e) {
      throw new IllegalStateException(
          "could not write the dead letter of " + where(original) + ": " + e, e);
    }
  }

  private void sendDeadLetter(
      ConsumerRecord<byte[], byte[]> original, FieldError error, boolean byReference)
      throws ExecutionException, TimeoutException, InterruptedException {
    RecordHeaders h = new RecordHeaders();
    original.headers().forEach(h::add);
    h.add(Headers.DLQ_REASON, utf8(error.reason()));
    h.add(Headers.DLQ_FIELD, utf8(error.field()));
    h.add(Headers.DLQ_TOPIC, utf8(original.topic()));
    h.add(Headers.DLQ_PARTITION, utf8(Integer.toString(original.partition())));
    h.add(Headers.DLQ_OFFSET, utf8(Long.toString(original.offset())));
    byte[] value = original.value();
    if (byReference) {
      h.add(
          Headers.DLQ_VALUE_OMITTED,
          utf8(
              (value == null ? 0 : value.length)
                  + " bytes; too large to copy, read it at the original topic, partition and"
                  + " offset"));
      value = null;
    }
    raw.send(new ProducerRecord<>(topics.deadLetter(), null, original.key(), value, h))
        .get(deliveryTimeout.toSeconds() + 30, TimeUnit.SECONDS);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String where(ConsumerRecord<?, ?> r) {
    return r.topic() + "/" + r.partition() + "/" + r.offset();
  }

  private Future<Void> send(RecordCodec.Outgoing out) {
    KafkaProducerRecord<String, byte[]> r =
        KafkaProducerRecord.create(topics.forSchema(out.schema()), out.key(), out.value());
    out.headers().forEach(r::addHeader);
    return producer.send(r).mapEmpty();
  }

  public Future<Void> close() {
    // Closing the plain producer blocks (it flushes): never on an event loop.
    return vertx
        .executeBlocking(
            () -> {
              raw.close(Duration.ofSeconds(5));
              return null;
            })
        .compose(v -> producer.close());
  }
}
