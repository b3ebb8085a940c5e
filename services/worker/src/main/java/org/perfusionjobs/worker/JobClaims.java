package org.perfusionjobs.worker;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One atomic claim per (tenant, job id) in Redis, so that replays, redeliveries and races run a job
 * at most once. The claim is a hash at {@code claim:{tenant}:{jobId}} with fields {@code state}
 * (running, done, released), {@code owner} (the claiming delivery's token), {@code record}
 * (topic/partition/offset), {@code epoch} (grows with every claim and replay: the job's event seq
 * base is {@code epoch * 1,000,000}, so a later run or replay always publishes above every earlier
 * seq) and {@code event} (the stored terminal event of a done job).
 *
 * <p>Every change is one Lua script, so check and act are atomic. Calls block (intake and helper
 * threads only) and retry with bounded backoff while Redis is unreachable, for as long as the
 * caller still wants the answer: an outage makes jobs wait, never fail.
 */
final class JobClaims implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(JobClaims.class);
  static final long SEQ_PER_EPOCH = 1_000_000L;
  /** How long a finished job's outcome is kept for replays. */
  static final Duration KEEP_OUTCOME = Duration.ofDays(7);

  // A new claim: a done job is replayed (new epoch, stored event returned); a job run from another
  // record is busy; otherwise (no claim, released, or the same record redelivered after its holder
  // lost the broker lock) the caller owns it. The epoch is above the earlier deliveries' count, so
  // seqs stay above an earlier delivery's even when Redis lost the claim.
  private static final String CLAIM = """
      local state = redis.call('HGET', KEYS[1], 'state')
      local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
      local floor = tonumber(ARGV[4])
      if epoch < floor then epoch = floor end
      if state == 'done' then
        if redis.call('HGET', KEYS[1], 'record') == ARGV[2] and redis.call('HGET', KEYS[1], 'published') == '1' then
          return {'published', tostring(epoch)}
        end
        epoch = epoch + 1
        redis.call('HSET', KEYS[1], 'epoch', epoch)
        return {'done', tostring(epoch), redis.call('HGET', KEYS[1], 'event')}
      end
      if state == 'running' and redis.call('HGET', KEYS[1], 'record') ~= ARGV[2] then
        return {'busy', tostring(epoch), redis.call('HGET', KEYS[1], 'owner')}
      end
      epoch = epoch + 1
      redis.call('HSET', KEYS[1], 'state', 'running', 'owner', ARGV[1], 'record', ARGV[2], 'epoch', epoch)
      redis.call('HDEL', KEYS[1], 'event', 'published')
      redis.call('PEXPIRE', KEYS[1], ARGV[3])
      return {'claimed', tostring(epoch)}
      """;

  // Extends a running claim; recreates it if Redis lost it (restart without persistence).
  private static final String RENEW = """
      local owner = redis.call('HGET', KEYS[1], 'owner')
      if owner == ARGV[1] and redis.call('HGET', KEYS[1], 'state') == 'running' then
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return 1
      end
      if owner == false then
        redis.call('HSET', KEYS[1], 'state', 'running', 'owner', ARGV[1], 'record', ARGV[3], 'epoch', ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return 2
      end
      return 0
      """;

  // Ends a claim we own: done (with the outcome, kept for replays) or released (may run again).
  // The epoch stays, so a later claim still publishes above this run's seqs.
  private static final String SETTLE = """
      local owner = redis.call('HGET', KEYS[1], 'owner')
      if owner ~= false and owner ~= ARGV[1] then return 0 end
      redis.call('HSET', KEYS[1], 'state', ARGV[2], 'owner', ARGV[1], 'epoch', ARGV[5])
      if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'event', ARGV[3]) end
      redis.call('PEXPIRE', KEYS[1], ARGV[4])
      return 1
      """;

  private static final String PUBLISHED = """
      if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then redis.call('HSET', KEYS[1], 'published', '1') return 1 end
      return 0
      """;

  // An epoch for an event outside a claim (a rejected record): seqs above everything before.
  private static final String NEXT_EPOCH = """
      local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
      local floor = tonumber(ARGV[1])
      if epoch < floor then epoch = floor end
      epoch = epoch + 1
      redis.call('HSET', KEYS[1], 'epoch', epoch)
      if redis.call('HGET', KEYS[1], 'state') == false then redis.call('HSET', KEYS[1], 'state', 'released') end
      if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
      return tostring(epoch)
      """;

  /** The outcome of {@link #claim}. */
  sealed interface Claim {}

  /** This delivery owns the job now; its events use {@code epoch}. */
  record Claimed(Owner owner, long epoch) implements Claim {}

  /** Who holds a claim: one delivery (token) of one record of one job. */
  record Owner(String tenant, String jobId, String recordId, String token) {}

  /** The job finished before: republish {@code eventJson} under {@code epoch}. */
  record Done(long epoch, String eventJson) implements Claim {}

  /** This very record finished the job and published the outcome; nothing more to say. */
  record AlreadyPublished(long epoch) implements Claim {}

  /** Another record of the same job id is running it now. */
  record Busy(String owner) implements Claim {}

  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;
  private final Duration runningTtl;

  /**
   * @param runningTtl how long a running claim lives without renewal: after a crash a duplicate
   *     record (another record with the same job id) waits at most this long
   */
  JobClaims(String uri, Duration runningTtl) {
    this.client = RedisClient.create(RedisURI.builder(RedisURI.create(uri)).withTimeout(Duration.ofSeconds(2)).build());
    this.connection = client.connect();
    this.runningTtl = runningTtl;
  }

  static String key(String tenant, String jobId) {
    return "claim:{" + tenant + "}:" + jobId;
  }

  /**
   * Claims the job for one delivery of a record.
   *
   * @param token unique per delivery (record, worker, delivery count)
   * @param floorEpoch the new epoch is above this (the number of earlier deliveries)
   */
  Claim claim(String tenant, String jobId, String recordId, String token, long floorEpoch, BooleanSupplier keepTrying) {
    List<Object> r = call(c -> c.eval(CLAIM, ScriptOutputType.MULTI, new String[] {key(tenant, jobId)},
        token, recordId, Long.toString(runningTtl.toMillis()), Long.toString(floorEpoch)), keepTrying, "claim " + jobId);
    String kind = (String) r.get(0);
    long epoch = Long.parseLong((String) r.get(1));
    return switch (kind) {
      case "claimed" -> new Claimed(new Owner(tenant, jobId, recordId, token), epoch);
      case "done" -> new Done(epoch, (String) r.get(2));
      case "published" -> new AlreadyPublished(epoch);
      default -> new Busy((String) r.get(2));
    };
  }

  /**
   * Extends a running claim. Returns false only when another delivery owns the job now; while Redis
   * is unreachable it returns true (nobody can take the claim from a Redis that does not answer).
   */
  boolean renew(Claimed c) {
    try {
      Long r = connection.sync().eval(RENEW, ScriptOutputType.INTEGER, new String[] {key(c.owner().tenant(), c.owner().jobId())},
          c.owner().token(), Long.toString(runningTtl.toMillis()), c.owner().recordId(), Long.toString(c.epoch()));
      if (r == 2) {
        LOG.warn("claim of job {} was gone from Redis; recreated it", c.owner().jobId());
      }
      return r != 0;
    } catch (RedisException e) {
      return true;
    }
  }

  /** Marks the job done with its terminal event (kept for replays); false if another delivery owns it. */
  boolean done(Claimed c, String eventJson, BooleanSupplier keepTrying) {
    return settle(c, "done", eventJson, keepTrying);
  }

  /** Notes that the outcome went out, so a redelivery of the same record publishes nothing new (best effort). */
  void published(Claimed c) {
    try {
      connection.sync().eval(PUBLISHED, ScriptOutputType.INTEGER, new String[] {key(c.owner().tenant(), c.owner().jobId())}, c.owner().token());
    } catch (RedisException e) {
      // Without the mark a redelivery republishes the stored outcome once more, above every seq: harmless.
    }
  }

  /** Gives the job up (failed, cancelled, or an infrastructure error): a later record may run it. */
  boolean release(Claimed c, BooleanSupplier keepTrying) {
    return settle(c, "released", "", keepTrying);
  }

  private boolean settle(Claimed c, String state, String eventJson, BooleanSupplier keepTrying) {
    Long r = call(cmd -> cmd.eval(SETTLE, ScriptOutputType.INTEGER, new String[] {key(c.owner().tenant(), c.owner().jobId())},
        c.owner().token(), state, eventJson, Long.toString(KEEP_OUTCOME.toMillis()), Long.toString(c.epoch())), keepTrying, state + " " + c.owner().jobId());
    return r == 1;
  }

  /** A fresh epoch for events about a record that is not run (rejected before any claim). */
  long nextEpoch(String tenant, String jobId, long floorEpoch, BooleanSupplier keepTrying) {
    String r = call(c -> c.eval(NEXT_EPOCH, ScriptOutputType.VALUE, new String[] {key(tenant, jobId)},
        Long.toString(floorEpoch), Long.toString(KEEP_OUTCOME.toMillis())), keepTrying, "epoch " + jobId);
    return Long.parseLong(r);
  }

  /** The claim's state: {@code running}, {@code done}, {@code released}, or null if there is none. */
  String state(String tenant, String jobId, BooleanSupplier keepTrying) {
    return call(c -> c.hget(key(tenant, jobId), "state"), keepTrying, "state " + jobId);
  }

  /** Whether Redis answers now (readiness). */
  boolean reachable() {
    try {
      return "PONG".equals(connection.sync().ping());
    } catch (RedisException e) {
      return false;
    }
  }

  /**
   * Runs a command until it succeeds, backing off from 100 ms to 2 s between tries, for as long as
   * {@code keepTrying} holds; then gives up with the last error.
   */
  private <T> T call(Function<RedisCommands<String, String>, T> op, BooleanSupplier keepTrying, String what) {
    long backoff = 100;
    long since = System.nanoTime();
    while (true) {
      try {
        return op.apply(connection.sync());
      } catch (RedisException e) {
        if (!keepTrying.getAsBoolean()) {
          throw e;
        }
        if (backoff >= 1600) {
          LOG.warn("Redis unreachable for {} s ({}): {}; retrying", (System.nanoTime() - since) / 1_000_000_000L, what, e.getMessage());
        }
        try {
          Thread.sleep(backoff);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
        backoff = Math.min(2000, backoff * 2);
      }
    }
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown();
  }
}
