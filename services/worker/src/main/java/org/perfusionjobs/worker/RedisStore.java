package org.perfusionjobs.worker;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.perfusionjobs.contracts.RedisSecurity;
import org.perfusionjobs.contracts.TenantScope;

/**
 * The worker's Redis cache (Lettuce): result and uploaded blobs with a TTL, training checkpoints
 * and cancel marks (the job claims are {@link JobClaims}'; concept files come from the registry
 * topic, {@link ConceptCatalog}). Calls block (they run on the intake or model thread, never on an
 * event loop). While Redis is unreachable, writes and the reads a job needs wait with backoff
 * ({@link RedisWait}): each try is bounded by the 2 s command timeout, the whole wait by the outage
 * limit ({@code PERFUSION_OUTAGE_WAIT_MS}, 10 minutes by default) and by the caller's {@code
 * keepTrying}; then a {@link RedisWait.RedisOutageException} says so, which is an infrastructure
 * error (the job is released, never failed). Checkpoints and cancel marks are best effort and never
 * wait.
 *
 * <p>Every key is scoped by tenant ({@link TenantScope}): {@code blob:<tenant>/<id>}, {@code
 * ckpt:<tenant>/<jobId>}, {@code cancel:<tenant>/<jobId>}; two tenants using the same id never
 * share a key.
 */
public final class RedisStore implements AutoCloseable {
  private final RedisClient client;
  private final StatefulRedisConnection<String, byte[]> connection;
  private final RedisWait wait;

  public RedisStore(String uri, Duration outageWait) {
    this(uri, RedisSecurity.NONE, outageWait);
  }

  /** With the credentials and TLS settings of {@code PERFUSION_REDIS_*}. */
  public RedisStore(String uri, RedisSecurity security, Duration outageWait) {
    this.client = RedisWait.client(uri, security);
    try {
      this.connection =
          security.connect(client, RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
    } catch (RuntimeException e) {
      RedisWait.shutdown(client);
      throw e;
    }
    this.wait = new RedisWait(outageWait);
  }

  public void putBlob(String tenant, String id, byte[] data, Duration ttl) {
    putBlob(tenant, id, data, ttl, () -> true);
  }

  /**
   * Stores a blob, waiting through an outage while {@code keepTrying} holds (within the outage
   * limit).
   */
  public void putBlob(
      String tenant, String id, byte[] data, Duration ttl, BooleanSupplier keepTrying) {
    retry(
        c -> c.set(blobKey(tenant, id), data, SetArgs.Builder.ex(ttl)),
        keepTrying,
        "store blob " + id);
  }

  /**
   * The tenant's blob, or null when it does not exist: another tenant's blob with that id is not
   * looked at.
   */
  public byte[] blob(String tenant, String id) {
    return retry(c -> c.get(blobKey(tenant, id)), () -> true, "read blob " + id);
  }

  /**
   * Redis key of a tenant's blob (the gateway stores uploads and reads results under the same key).
   */
  public static String blobKey(String tenant, String id) {
    return "blob:" + TenantScope.of(tenant, id);
  }

  /**
   * Best effort, one try: a training job does not wait for Redis to save a checkpoint (a missed one
   * only costs steps if the job moves to another worker). False if it was not saved.
   */
  public boolean putCheckpoint(String tenant, String jobId, byte[] state, Duration ttl) {
    try {
      connection
          .sync()
          .set("ckpt:" + TenantScope.of(tenant, jobId), state, SetArgs.Builder.ex(ttl));
      return true;
    } catch (RedisException e) {
      return false;
    }
  }

  public byte[] checkpoint(String tenant, String jobId) {
    try {
      return connection.sync().get("ckpt:" + TenantScope.of(tenant, jobId));
    } catch (RedisException e) {
      return null;
    }
  }

  /**
   * @param key {@link CancelRegistry#key}, already scoped by tenant
   */
  public void markCancelled(String key, Duration ttl) {
    retry(
        c -> c.set("cancel:" + key, new byte[] {1}, SetArgs.Builder.ex(ttl)),
        () -> true,
        "cancel mark " + key);
  }

  public boolean isCancelled(String key) {
    try {
      return connection.sync().exists("cancel:" + key) > 0;
    } catch (RedisException e) {
      return false;
    }
  }

  private <T> T retry(
      Function<RedisCommands<String, byte[]>, T> op, BooleanSupplier keepTrying, String what) {
    return wait.call(() -> op.apply(connection.sync()), keepTrying, what);
  }

  @Override
  public void close() {
    connection.close();
    RedisWait.shutdown(client);
  }
}
