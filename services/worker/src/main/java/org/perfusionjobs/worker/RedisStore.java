package org.perfusionjobs.worker;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Function;
import org.perfusionjobs.contracts.TenantScope;

/**
 * The worker's Redis cache (Lettuce): result and uploaded blobs with a TTL, training checkpoints and
 * cancel marks (the job claims are {@link JobClaims}'; concept files come from the registry topic,
 * {@link ConceptCatalog}). Calls block (they run on the
 * intake or model thread, never on an event loop) and retry across a Redis restart for a bounded
 * time, so a result written while Redis is briefly away is not lost.
 *
 * <p>Every key is scoped by tenant ({@link TenantScope}): {@code blob:<tenant>/<id>}, {@code
 * ckpt:<tenant>/<jobId>}, {@code cancel:<tenant>/<jobId>}; two tenants using the same id never share
 * a key.
 */
public final class RedisStore implements AutoCloseable {
  private static final Duration RETRY_FOR = Duration.ofSeconds(30);
  private final RedisClient client;
  private final StatefulRedisConnection<String, byte[]> connection;

  public RedisStore(String uri) {
    this.client = RedisClient.create(RedisURI.builder(RedisURI.create(uri)).withTimeout(Duration.ofSeconds(2)).build());
    this.connection = client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
  }

  public void putBlob(String tenant, String id, byte[] data, Duration ttl) {
    retry(c -> c.set(blobKey(tenant, id), data, SetArgs.Builder.ex(ttl)));
  }

  /** The tenant's blob, or null when it does not exist: another tenant's blob with that id is not looked at. */
  public byte[] blob(String tenant, String id) {
    return retry(c -> c.get(blobKey(tenant, id)));
  }

  /** Redis key of a tenant's blob (the gateway stores uploads and reads results under the same key). */
  public static String blobKey(String tenant, String id) {
    return "blob:" + TenantScope.of(tenant, id);
  }

  public void putCheckpoint(String tenant, String jobId, byte[] state, Duration ttl) {
    retry(c -> c.set("ckpt:" + TenantScope.of(tenant, jobId), state, SetArgs.Builder.ex(ttl)));
  }

  public byte[] checkpoint(String tenant, String jobId) {
    try {
      return connection.sync().get("ckpt:" + TenantScope.of(tenant, jobId));
    } catch (RedisException e) {
      return null;
    }
  }

  /** @param key {@link CancelRegistry#key}, already scoped by tenant */
  public void markCancelled(String key, Duration ttl) {
    retry(c -> c.set("cancel:" + key, new byte[] {1}, SetArgs.Builder.ex(ttl)));
  }

  public boolean isCancelled(String key) {
    try {
      return connection.sync().exists("cancel:" + key) > 0;
    } catch (RedisException e) {
      return false;
    }
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
