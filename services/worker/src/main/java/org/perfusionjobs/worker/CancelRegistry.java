package org.perfusionjobs.worker;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.perfusionjobs.contracts.CancelRequestV1;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.InvalidEventException;
import org.perfusionjobs.contracts.KafkaConnection;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Schemas;

/**
 * Cancel requests, read by every worker: a running job here stops at its next step; the mark also
 * goes to Redis so whichever worker later picks up a queued job drops it. Marks are keyed by tenant
 * and job, so one tenant cannot cancel another's job.
 */
public final class CancelRegistry {
  private final Map<String, String> cancelled = new ConcurrentHashMap<>();
  private KafkaConsumer<String, byte[]> consumer;

  public Future<Void> start(Vertx vertx, KafkaConnection kafka, String topic, RedisStore redis) {
    consumer = TopicReaders.fromStart(vertx, kafka, "perfusion-cancel-");
    consumer.handler(
        r -> {
          try {
            // Exactly one version header with a value, as for job requests; anything else cancels
            // nothing.
            List<String> versions =
                r.headers().stream()
                    .filter(h -> h.key().equals(Headers.VERSION))
                    .map(h -> h.value() == null ? null : h.value().toString())
                    .toList();
            String version = versions.size() == 1 ? versions.get(0) : null;
            CancelRequestV1 c =
                RecordCodec.decode(
                    Schemas.CANCEL_REQUEST, version, r.value(), CancelRequestV1.class);
            String key = key(c.tenant(), c.jobId());
            // The reason is echoed in the cancelled event; every worker reads every cancel, so it
            // is known locally.
            cancelled.put(key, c.reason() == null || c.reason().isBlank() ? "" : c.reason());
            vertx.executeBlocking(
                () -> {
                  redis.markCancelled(key, Duration.ofDays(1));
                  return null;
                });
          } catch (InvalidEventException e) {
            // An invalid cancel request cancels nothing.
          }
        });
    return consumer.subscribe(topic);
  }

  static String key(String tenant, String jobId) {
    return tenant + "/" + jobId;
  }

  public boolean isCancelled(String tenant, String jobId, RedisStore redis) {
    return cancelled.containsKey(key(tenant, jobId)) || redis.isCancelled(key(tenant, jobId));
  }

  /** Cheap check for the model thread between steps (local marks only). */
  public boolean isCancelledLocally(String tenant, String jobId) {
    return cancelled.containsKey(key(tenant, jobId));
  }

  /**
   * The reason given with the cancel request, or null if none was given (or the cancel is not known
   * here).
   */
  public String reason(String tenant, String jobId) {
    String r = cancelled.get(key(tenant, jobId));
    return r == null || r.isEmpty() ? null : r;
  }

  public Future<Void> close() {
    return consumer == null ? Future.succeededFuture() : consumer.close();
  }
}
