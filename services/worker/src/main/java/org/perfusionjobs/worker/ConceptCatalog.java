package org.perfusionjobs.worker;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.Schemas;

/**
 * Every concept of the compacted registry topic, read from the beginning by each worker (a few
 * hundred KB per concept; the topic is the source of truth). A null value deletes a concept.
 */
public final class ConceptCatalog {
  private final Map<String, ConceptRegistered> byId = new ConcurrentHashMap<>();
  private KafkaConsumer<String, byte[]> consumer;

  public Future<Void> start(Vertx vertx, String bootstrap, String topic) {
    consumer = TopicReaders.fromStart(vertx, bootstrap, "perfusion-catalog-");
    consumer.handler(r -> {
      if (r.value() == null) {
        byId.remove(r.key());
        return;
      }
      try {
        byId.put(r.key(), Schemas.json().readValue(r.value(), ConceptRegistered.class));
      } catch (java.io.IOException e) {
        // A malformed registry entry is skipped; the registry is written only by workers.
      }
    });
    return consumer.subscribe(topic);
  }

  /** The concept if it belongs to {@code tenant}; waits up to {@code wait} for a just-registered one. */
  public Optional<ConceptRegistered> find(String conceptId, String tenant, Duration wait) {
    long deadline = System.nanoTime() + wait.toNanos();
    while (true) {
      ConceptRegistered c = byId.get(conceptId);
      if (c != null) {
        return tenant.equals(c.tenant()) ? Optional.of(c) : Optional.empty();
      }
      if (System.nanoTime() > deadline) {
        return Optional.empty();
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return Optional.empty();
      }
    }
  }

  public Future<Void> close() {
    return consumer == null ? Future.succeededFuture() : consumer.close();
  }
}
