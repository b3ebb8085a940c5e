package org.perfusionjobs.worker;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The renew and settle steps: the broker's lock on the one record an intake holds. Only the intake
 * thread calls it (the share consumer is not thread-safe). Every acknowledgement is sent with
 * {@code commitSync} and its per-partition result checked; once a renewal or an acknowledgement
 * fails (refused, or the broker unreachable for the commit timeout) the lock counts as lost for
 * good. A lost lock does not stop a job that already holds its claim ({@link JobClaims}): the claim
 * decides who runs a job, the lock only keeps the record from being lost while it runs. The next
 * holder of the record finds the claim in flight and waits for the outcome.
 *
 * <p>Why renewals are committed rather than left to {@code poll()} (measured on a 4.4 broker with
 * three queued records and a second member): a RENEW carried by {@code poll()} leaves the consumer
 * with no record in flight, so that poll also fetches, and the broker hands this consumer the next
 * queued records. They wait unseen in the client buffer while their locks run out; the other member
 * got them only then (15 s later, delivery 2), and the stale copies (delivery 1) came out of this
 * consumer's buffer after its ACCEPT, to run a second time. A RENEW sent with {@code commitSync}
 * has its answer before the next poll, which returns the renewed record at once and fetches nothing
 * (RecordLockTest). Overlapping fetches when a job starts can still leave a stale copy in the
 * buffer (seen once in four jobs with two workers), which is why the intake renews every record
 * before running it: the broker refuses the renewal of a stale copy.
 */
final class RecordLock {
  private static final Logger LOG = LoggerFactory.getLogger(RecordLock.class);
  private static final Duration COMMIT_TIMEOUT = Duration.ofSeconds(10);
  private final KafkaShareConsumer<byte[], byte[]> consumer;
  private final Duration interval;
  private ConsumerRecord<byte[], byte[]> record;
  private volatile boolean lost;
  private AcknowledgeType settled;

  RecordLock(
      KafkaShareConsumer<byte[], byte[]> consumer,
      ConsumerRecord<byte[], byte[]> record,
      Duration interval) {
    this.consumer = consumer;
    this.record = record;
    this.interval = interval;
  }

  /**
   * The latest delivery: a renewal hands the record out again, and only that copy can be
   * acknowledged.
   */
  ConsumerRecord<byte[], byte[]> record() {
    return record;
  }

  String id() {
    return record.topic() + "/" + record.partition() + "/" + record.offset();
  }

  int deliveryCount() {
    return record.deliveryCount().map(Short::intValue).orElse(1);
  }

  /** Whether this worker still holds the record (safe to read from any thread). */
  boolean held() {
    return !lost;
  }

  /**
   * Extends the lock by the group's lock duration; false (and lost for good) if the broker refused.
   */
  boolean renew() {
    if (lost) {
      return false;
    }
    try {
      consumer.acknowledge(record, AcknowledgeType.RENEW);
      Optional<String> error = error(consumer.commitSync(COMMIT_TIMEOUT));
      if (error.isPresent()) {
        return lose("renewal refused: " + error.get());
      }
      // The renewed record comes back from the next poll (KAFKA-20458), at once since the renewal
      // is done.
      long until = System.nanoTime() + 5_000_000_000L;
      while (System.nanoTime() < until) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
          if (r.topic().equals(record.topic())
              && r.partition() == record.partition()
              && r.offset() == record.offset()) {
            record = r;
            return true;
          }
          // Not expected (nothing is fetched while a renewed record is held), but never keep a
          // record unseen.
          LOG.warn(
              "record {}/{}/{} arrived while renewing {}; released",
              r.topic(),
              r.partition(),
              r.offset(),
              id());
          consumer.acknowledge(r, AcknowledgeType.RELEASE);
          error(consumer.commitSync(COMMIT_TIMEOUT))
              .ifPresent(e -> LOG.warn("release failed: {}", e));
        }
      }
      return lose("the renewed record did not come back within 5 s");
    } catch (WakeupException e) {
      throw e;
    } catch (IllegalStateException | KafkaException e) {
      return lose("renewal failed: " + e);
    }
  }

  /** The final acknowledgement the broker confirmed, or null if none was. */
  AcknowledgeType settled() {
    return settled;
  }

  /** Final acknowledgement; true only if the broker confirmed it. */
  boolean settle(AcknowledgeType type) {
    if (lost) {
      LOG.warn("record {}: not acknowledged ({}) because its lock was lost earlier", id(), type);
      return false;
    }
    try {
      consumer.acknowledge(record, type);
      Map<TopicIdPartition, Optional<KafkaException>> result = consumer.commitSync(COMMIT_TIMEOUT);
      Optional<String> error = error(result);
      if (error.isPresent() || result.isEmpty()) {
        lose(type + " not confirmed: " + error.orElse("no answer"));
        return false;
      }
      settled = type;
      return true;
    } catch (WakeupException e) {
      throw e;
    } catch (IllegalStateException | KafkaException e) {
      lose(type + " failed: " + e);
      return false;
    }
  }

  /**
   * Runs blocking side work (Redis, publishing) on {@code helper} and keeps renewing the lock while
   * it runs. Returns its result. If the lock is lost meanwhile, renewals stop but the work is still
   * awaited: work that must not go on without the lock polls {@link #held()} (the claim calls do);
   * work that goes on under the job's claim (publishing an outcome) finishes.
   */
  <T> T whileRenewing(ExecutorService helper, Callable<T> work)
      throws ExecutionException, InterruptedException {
    Future<T> f = helper.submit(work);
    while (true) {
      try {
        return f.get(interval.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException stillRunning) {
        if (!lost) {
          renew();
        }
      }
    }
  }

  /** Waits {@code d}, renewing the lock every interval; false if the lock was lost. */
  boolean sleepRenewing(Duration d) throws InterruptedException {
    long until = System.nanoTime() + d.toNanos();
    while (!lost) {
      long left = (until - System.nanoTime()) / 1_000_000;
      if (left <= 0) {
        return true;
      }
      Thread.sleep(Math.min(left, interval.toMillis()));
      renew();
    }
    return false;
  }

  private boolean lose(String why) {
    lost = true;
    LOG.warn("record {} (delivery {}): lock lost: {}", id(), deliveryCount(), why);
    return false;
  }

  private static Optional<String> error(Map<TopicIdPartition, Optional<KafkaException>> result) {
    return result.entrySet().stream()
        .filter(e -> e.getValue().isPresent())
        .map(e -> e.getKey() + ": " + e.getValue().get())
        .findFirst();
  }
}
