package org.perfusionjobs.worker;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Function;

/**
 * The worker's Redis cache (Lettuce): result and uploaded blobs with a TTL, job snapshots for
 * idempotency, training checkpoints, cancel marks, concept files. Calls block (they run on the
 * intake or model thread, never on an event loop) and retry across a Redis restart for a bounded
 * time, so a result written while Redis is briefly away is not lost.
 *
 * <p>Keys: {@code blob:<id>}, {@code job:<jobId>}, {@code ckpt:<jobId>}, {@code cancel:<jobId>},
 * {@code concept:<conceptId>}.
 */
public final class RedisStore implements AutoCloseable {
  private static final Duration RETRY_FOR = Duration.ofSeconds(30);
  private final RedisClient client;
  private final StatefulRedisConnection<String, byte[]> connection;

  public RedisStore(String uri) {
    this.client = RedisClient.create(io.lettuce.core.RedisURI.builder(io.lettuce.core.RedisURI.create(uri)).withTimeout(Duration.ofSeconds(2)).build());
    this.connection = client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
  }

  public void putBlob(String id, byte[] data, Duration ttl) {
    retry(c -> c.set("blob:" + id, data, SetArgs.Builder.ex(ttl)));
  }

  public byte[] blob(String id) {
    return retry(c -> c.get("blob:" + id));
  }

  public void putJob(String jobId, String json, Duration ttl) {
    retry(c -> c.set("job:" + jobId, json.getBytes(StandardCharsets.UTF_8), SetArgs.Builder.ex(ttl)));
  }

  /** The job's snapshot, or null (also when Redis cannot be reached: the cache is optional here). */
  public String job(String jobId) {
    try {
      byte[] v = connection.sync().get("job:" + jobId);
      return v == null ? null : new String(v, StandardCharsets.UTF_8);
    } catch (RedisException e) {
      return null;
    }
  }

  public void putCheckpoint(String jobId, byte[] state, Duration ttl) {
    retry(c -> c.set("ckpt:" + jobId, state, SetArgs.Builder.ex(ttl)));
  }

  public byte[] checkpoint(String jobId) {
    try {
      return connection.sync().get("ckpt:" + jobId);
    } catch (RedisException e) {
      return null;
    }
  }

  public void markCancelled(String jobId, Duration ttl) {
    retry(c -> c.set("cancel:" + jobId, new byte[] {1}, SetArgs.Builder.ex(ttl)));
  }

  public boolean isCancelled(String jobId) {
    try {
      return connection.sync().exists("cancel:" + jobId) > 0;
    } catch (RedisException e) {
      return false;
    }
  }

  public void putConcept(String conceptId, byte[] file) {
    retry(c -> c.set("concept:" + conceptId, file));
  }

  private <T> T retry(Function<RedisCommands<String, byte[]>, T> op) {
    long deadline = System.nanoTime() + RETRY_FOR.toNanos();
    while (true) {
      try {
        return op.apply(connection.sync());
      } catch (RedisException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        try {
          Thread.sleep(200);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown();
  }
}
