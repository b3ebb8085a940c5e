package org.perfusionjobs.worker;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.KafkaConnection;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.TenantScope;

/**
 * Every concept of the compacted registry topic, read from the beginning by each worker (a few
 * hundred KB per concept; the topic is the source of truth). A null value deletes a concept.
 * Entries are keyed {@code <tenant>/<conceptId>} ({@link TenantScope}); an entry whose key does not
 * match its own tenant and id (for example one keyed by the bare concept id) is ignored, so no
 * record can stand in for another tenant's concept.
 */
public final class ConceptCatalog {
  private final Map<String, ConceptRegistered> byId = new ConcurrentHashMap<>();
  private KafkaConsumer<String, byte[]> consumer;

  public Future<Void> start(Vertx vertx, KafkaConnection kafka, String topic) {
    consumer = TopicReaders.fromStart(vertx, kafka, "perfusion-catalog-");
    consumer.handler(
        r -> {
          if (r.value() == null) {
            byId.remove(r.key());
            return;
          }
          try {
            ConceptRegistered c = RecordCodec.read(r.value(), ConceptRegistered.class);
            if (c.tenant() != null
                && c.conceptId() != null
                && TenantScope.of(c.tenant(), c.conceptId()).equals(r.key())) {
              byId.put(r.key(), c);
            }
          } catch (IOException | IllegalArgumentException e) {
            // A malformed registry entry is skipped; the registry is written only by workers.
          }
        });
    return consumer.subscribe(topic);
  }

  /**
   * The concept if it belongs to {@code tenant}; waits up to {@code wait} for a just-registered
   * one.
   */
  public Optional<ConceptRegistered> find(String conceptId, String tenant, Duration wait) {
    long deadline = System.nanoTime() + wait.toNanos();
    while (true) {
      ConceptRegistered c = byId.get(TenantScope.of(tenant, conceptId));
      if (c != null) {
        return Optional.of(c);
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
