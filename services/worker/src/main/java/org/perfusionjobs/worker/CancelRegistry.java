package org.perfusionjobs.worker;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.perfusionjobs.contracts.CancelRequestV1;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.InvalidEventException;
import org.perfusionjobs.contracts.KafkaConnection;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Schemas;

/**
 * Cancel requests, read by every worker: a running job here stops at its next step; the mark also
 * goes to Redis so whichever worker later picks up a queued job drops it. Marks are keyed by tenant
 * and job, so one tenant cannot cancel another's job. A mark lives as long as its Redis copy
 * ({@link #MARK_TTL} from the cancel record's time); expired marks are dropped as new ones arrive,
 * so a long-lived worker does not keep one entry per cancel forever.
 */
public final class CancelRegistry {
  /** How long a cancel mark lives, here and in Redis. */
  static final Duration MARK_TTL = Duration.ofDays(1);

  /** New marks between two sweeps of the expired ones. */
  static final int SWEEP_EVERY = 1024;

  private record Mark(String reason, long expiresAtMillis) {}

  private final Map<String, Mark> cancelled = new ConcurrentHashMap<>();
  private final LongSupplier clock;
  private final AtomicInteger sinceSweep = new AtomicInteger();
  private KafkaConsumer<String, byte[]> consumer;

  public CancelRegistry() {
    this(System::currentTimeMillis);
  }

  /** With a clock (milliseconds since the epoch), for tests. */
  CancelRegistry(LongSupplier clock) {
    this.clock = clock;
  }

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
            Duration left = mark(key, c.reason(), r.timestamp());
            if (!left.isNegative() && !left.isZero()) {
              vertx.executeBlocking(
                  () -> {
                    redis.markCancelled(key, left);
                    return null;
                  });
            }
          } catch (InvalidEventException e) {
            // An invalid cancel request cancels nothing.
          }
        });
    return consumer.subscribe(topic);
  }

  /**
   * Records a cancel read from the topic ({@code recordTimeMillis}: the record's timestamp, or
   * negative if unknown) and sweeps expired marks every {@link #SWEEP_EVERY} new ones. Returns how
   * long the mark has left to live (zero or negative: already expired, nothing kept).
   */
  Duration mark(String key, String reason, long recordTimeMillis) {
    long now = clock.getAsLong();
    long since = recordTimeMillis < 0 ? now : Math.min(now, recordTimeMillis);
    long expires = since + MARK_TTL.toMillis();
    if (expires > now) {
      cancelled.put(key, new Mark(reason == null || reason.isBlank() ? "" : reason, expires));
    }
    if (sinceSweep.incrementAndGet() >= SWEEP_EVERY) {
      sinceSweep.set(0);
      cancelled.values().removeIf(m -> m.expiresAtMillis() <= now);
    }
    return Duration.ofMillis(expires - now);
  }

  /** Marks held here now (expired ones not yet swept included), for tests and metrics. */
  int size() {
    return cancelled.size();
  }

  private Mark live(String tenant, String jobId) {
    Mark m = cancelled.get(key(tenant, jobId));
    return m == null || m.expiresAtMillis() <= clock.getAsLong() ? null : m;
  }

  static String key(String tenant, String jobId) {
    return tenant + "/" + jobId;
  }

  public boolean isCancelled(String tenant, String jobId, RedisStore redis) {
    return live(tenant, jobId) != null || redis.isCancelled(key(tenant, jobId));
  }

  /** Cheap check for the model thread between steps (local marks only). */
  public boolean isCancelledLocally(String tenant, String jobId) {
    return live(tenant, jobId) != null;
  }

  /**
   * The reason given with the cancel request, or null if none was given (or the cancel is not known
   * here).
   */
  public String reason(String tenant, String jobId) {
    Mark m = live(tenant, jobId);
    return m == null || m.reason().isEmpty() ? null : m.reason();
  }

  public Future<Void> close() {
    return consumer == null ? Future.succeededFuture() : consumer.close();
  }
}
