package org.perfusionjobs.worker;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.perfusionjobs.contracts.RedisSecurity;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How the worker waits for Redis during an outage (issue 19). Every attempt is bounded (the 2 s
 * command timeout); between attempts the wait grows from 100 ms to 2 s; the whole wait is bounded
 * by {@code PERFUSION_OUTAGE_WAIT_MS} (default 10 minutes, {@link WorkerConfig#outageWait}) and by
 * the caller's own condition (typically: this worker still owns the job). When either ends the
 * wait, the last error is thrown as a {@link RedisOutageException}, which the intake treats as an
 * infrastructure error: the job is not failed, its record is released for another delivery.
 *
 * <p>Lettuce reconnects in the background; its reconnect delay is bounded the same way (100 ms to 2
 * s) so that a Redis that comes back is used within about 2 s, not after Lettuce's default 30 s.
 */
final class RedisWait {
  private static final Logger LOG = LoggerFactory.getLogger(RedisWait.class);
  static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);
  private static final long FIRST_BACKOFF_MS = 100;
  private static final long MAX_BACKOFF_MS = 2000;
  private final Duration limit;

  RedisWait(Duration limit) {
    this.limit = limit;
  }

  Duration limit() {
    return limit;
  }

  /** A Lettuce client with the 2 s command timeout and a reconnect delay of at most 2 s. */
  static RedisClient client(String uri, RedisSecurity security) {
    ClientResources resources =
        ClientResources.builder()
            .reconnectDelay(
                Delay.exponential(
                    Duration.ofMillis(FIRST_BACKOFF_MS),
                    Duration.ofMillis(MAX_BACKOFF_MS),
                    2,
                    TimeUnit.MILLISECONDS))
            .build();
    return security.client(
        resources, uri, COMMAND_TIMEOUT, ClientOptions.builder().autoReconnect(true));
  }

  /** Shuts down a client made by {@link #client} together with its resources. */
  static void shutdown(RedisClient client) {
    client.shutdown();
    client.getResources().shutdown();
  }

  /**
   * Runs {@code attempt} until it succeeds, Redis being unreachable meanwhile, for as long as
   * {@code keepTrying} holds and the outage limit is not reached.
   *
   * @throws RedisOutageException when the wait ends without an answer
   */
  <T> T call(Supplier<T> attempt, BooleanSupplier keepTrying, String what) {
    long backoff = FIRST_BACKOFF_MS;
    long since = System.nanoTime();
    long deadline = since + limit.toNanos();
    long lastLog = since;
    while (true) {
      try {
        return attempt.get();
      } catch (RedisException e) {
        long now = System.nanoTime();
        if (!keepTrying.getAsBoolean()) {
          throw new RedisOutageException(
              what + ": Redis unreachable and the caller stopped waiting", e);
        }
        if (now - deadline > 0) {
          throw new RedisOutageException(
              what
                  + ": Redis unreachable for "
                  + (now - since) / 1_000_000_000L
                  + " s, past the outage limit of "
                  + limit.toSeconds()
                  + " s (PERFUSION_OUTAGE_WAIT_MS)",
              e);
        }
        if (now - lastLog > 10_000_000_000L) {
          LOG.warn(
              "Redis unreachable for {} s ({}): {}; waiting (limit {} s)",
              (now - since) / 1_000_000_000L,
              what,
              e.getMessage(),
              limit.toSeconds());
          lastLog = now;
        }
        try {
          Thread.sleep(Math.min(backoff, Math.max(1, (deadline - now) / 1_000_000)));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new RedisOutageException(what + ": interrupted while waiting for Redis", e);
        }
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }

  /** Redis did not answer within the wait: an infrastructure error, never a job failure. */
  static final class RedisOutageException extends RedisException {
    private static final long serialVersionUID = 1L;

    RedisOutageException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
