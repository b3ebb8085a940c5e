package org.perfusionjobs.worker;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.perfusionjobs.contracts.RedisSecurity;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One atomic claim per (tenant, job id) in Redis, so that replays, redeliveries and races run a job
 * at most once. The claim is a hash at {@code claim:{tenant}:{jobId}} with fields {@code state}
 * (running, done, released), {@code owner} (the claiming delivery's token), {@code record}
 * (topic/partition/offset), {@code epoch} (grows with every claim and replay: the job's event seq
 * base is {@code epoch * 1,000,000}, so a later run or replay always publishes above every earlier
 * seq), {@code event} (the stored terminal event of a done job) and {@code published}. Beside it,
 * {@code claimlive:{tenant}:{jobId}} holds the owner's token with a short TTL ({@code runningTtl}):
 * the owner's worker refreshes it from a heartbeat thread ({@link #hold}) until the outcome is
 * published, so "the owner is alive" does not depend on the intake thread or on the broker.
 *
 * <p>The claim, not the broker's record lock, decides who runs a job. A worker that loses its
 * record lock (the broker restarted, or refused a renewal) goes on with the job as long as its
 * claim lives; whoever gets the record next finds the claim {@link InFlight} and waits, holding the
 * record, until the outcome is published (then it acknowledges the record) or the owner's heartbeat
 * stops (then it takes the job over). So a job neither runs twice nor is lost when locks and owners
 * part.
 *
 * <p>Every change is one Lua script, so check and act are atomic. Calls block (intake and helper
 * threads only) and wait with bounded backoff while Redis is unreachable ({@link RedisWait}): an
 * outage makes jobs wait, never fail.
 */
final class JobClaims implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(JobClaims.class);
  static final long SEQ_PER_EPOCH = 1_000_000L;

  /** How long a finished job's outcome (and any claim's epoch) is kept. */
  static final Duration KEEP_OUTCOME = Duration.ofDays(7);

  // A new claim. KEYS: claim hash, liveness key. ARGV: token, record id, liveness TTL ms, floor
  // epoch, keep ms.
  // A done job is replayed (new epoch, stored event returned), unless this very record published it
  // (nothing to do) or its owner is still publishing it (in flight: wait). A job whose owner is
  // alive
  // is busy (another record of it) or in flight (this record, whose lock its owner lost). Otherwise
  // (no claim, released, or an owner whose heartbeat stopped) the caller owns it. The epoch is
  // above
  // the earlier deliveries' count, so seqs stay above an earlier delivery's even when Redis lost
  // the claim.
  private static final String CLAIM =
      """
      local state = redis.call('HGET', KEYS[1], 'state')
      local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
      local floor = tonumber(ARGV[4])
      if epoch < floor then epoch = floor end
      local live = redis.call('EXISTS', KEYS[2]) == 1
      local same = redis.call('HGET', KEYS[1], 'record') == ARGV[2]
      if redis.call('HGET', KEYS[1], 'ended') == ARGV[2] then
        return {'published', tostring(epoch)}
      end
      if state == 'done' then
        if same and redis.call('HGET', KEYS[1], 'published') == '1' then
          return {'published', tostring(epoch)}
        end
        if same and live then
          return {'inflight', tostring(epoch), redis.call('HGET', KEYS[1], 'owner')}
        end
        epoch = epoch + 1
        redis.call('HSET', KEYS[1], 'epoch', epoch)
        return {'done', tostring(epoch), redis.call('HGET', KEYS[1], 'event')}
      end
      if state == 'running' and live then
        if same then
          return {'inflight', tostring(epoch), redis.call('HGET', KEYS[1], 'owner')}
        end
        return {'busy', tostring(epoch), redis.call('HGET', KEYS[1], 'owner')}
      end
      epoch = epoch + 1
      redis.call('HSET', KEYS[1], 'state', 'running', 'owner', ARGV[1], 'record', ARGV[2], 'epoch', epoch)
      redis.call('HDEL', KEYS[1], 'event', 'published')
      redis.call('PEXPIRE', KEYS[1], ARGV[5])
      redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
      return {'claimed', tostring(epoch)}
      """;

  // The owner's heartbeat. KEYS: claim hash, liveness key. ARGV: token, liveness TTL ms, record id,
  // epoch, keep ms.
  // Recreates the claim if Redis lost it (a restart without persistence); 0 if another delivery
  // owns the job.
  private static final String RENEW =
      """
      local owner = redis.call('HGET', KEYS[1], 'owner')
      if owner == ARGV[1] then
        redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
        return 1
      end
      if owner == false then
        redis.call('HSET', KEYS[1], 'state', 'running', 'owner', ARGV[1], 'record', ARGV[3], 'epoch', ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
        return 2
      end
      return 0
      """;

  // Ends a claim we own: done (with the outcome, kept for replays) or released (may run again at
  // once).
  // KEYS: claim hash, liveness key. ARGV: token, state, event json, keep ms, epoch, ended record id
  // or ''.
  // The epoch stays, so a later claim still publishes above this run's seqs. 'ended' names a record
  // whose job ended (failed or cancelled, its event published): its later deliveries only
  // acknowledge it.
  private static final String SETTLE =
      """
      local owner = redis.call('HGET', KEYS[1], 'owner')
      if owner ~= false and owner ~= ARGV[1] then return 0 end
      redis.call('HSET', KEYS[1], 'state', ARGV[2], 'owner', ARGV[1], 'epoch', ARGV[5])
      if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'event', ARGV[3]) end
      if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'ended', ARGV[6]) end
      redis.call('PEXPIRE', KEYS[1], ARGV[4])
      if ARGV[2] == 'released' then redis.call('DEL', KEYS[2]) end
      return 1
      """;

  private static final String PUBLISHED =
      """
      if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
        redis.call('HSET', KEYS[1], 'published', '1')
        redis.call('DEL', KEYS[2])
        return 1
      end
      return 0
      """;

  // The claim's state for a reader: 'running' only while its owner is alive, 'abandoned' after.
  private static final String STATE =
      """
      local state = redis.call('HGET', KEYS[1], 'state')
      if state == 'running' and redis.call('EXISTS', KEYS[2]) == 0 then return 'abandoned' end
      return state
      """;

  // An epoch for an event outside a claim (a rejected record): seqs above everything before.
  private static final String NEXT_EPOCH =
      """
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

  /**
   * This very record's job is run (or its outcome published) by a live owner that lost the record's
   * lock: hold the record and ask again later.
   */
  record InFlight(String owner) implements Claim {}

  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;
  private final Duration runningTtl;
  private final RedisWait wait;
  private final Set<Hold> holds = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService heartbeat;

  /**
   * @param runningTtl how long a claim's owner counts as alive after its last heartbeat (the
   *     heartbeat runs every fifth of it): after a crash its job is taken over within this time
   * @param outageWait how long a call waits for an unreachable Redis at most
   */
  JobClaims(String uri, RedisSecurity security, Duration runningTtl, Duration outageWait) {
    this.client = RedisWait.client(uri, security);
    try {
      this.connection = security.connect(client, StringCodec.UTF8);
    } catch (RuntimeException e) {
      RedisWait.shutdown(client);
      throw e;
    }
    this.runningTtl = runningTtl;
    this.wait = new RedisWait(outageWait);
    this.heartbeat =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "claim-heartbeat");
              t.setDaemon(true);
              return t;
            });
    long every = Math.max(100, runningTtl.toMillis() / 5);
    heartbeat.scheduleWithFixedDelay(this::beat, every, every, TimeUnit.MILLISECONDS);
  }

  static String key(String tenant, String jobId) {
    return "claim:{" + tenant + "}:" + jobId;
  }

  static String liveKey(String tenant, String jobId) {
    return "claimlive:{" + tenant + "}:" + jobId;
  }

  private static String[] keys(String tenant, String jobId) {
    return new String[] {key(tenant, jobId), liveKey(tenant, jobId)};
  }

  private static String[] keys(Claimed c) {
    return keys(c.owner().tenant(), c.owner().jobId());
  }

  /**
   * Claims the job for one delivery of a record.
   *
   * @param token unique per delivery (record, worker, delivery count)
   * @param floorEpoch the new epoch is above this (the number of earlier deliveries)
   */
  Claim claim(
      String tenant,
      String jobId,
      String recordId,
      String token,
      long floorEpoch,
      BooleanSupplier keepTrying) {
    List<Object> r =
        call(
            c ->
                c.eval(
                    CLAIM,
                    ScriptOutputType.MULTI,
                    keys(tenant, jobId),
                    token,
                    recordId,
                    Long.toString(runningTtl.toMillis()),
                    Long.toString(floorEpoch),
                    Long.toString(KEEP_OUTCOME.toMillis())),
            keepTrying,
            "claim " + jobId);
    String kind = (String) r.get(0);
    long epoch = Long.parseLong((String) r.get(1));
    return switch (kind) {
      case "claimed" -> new Claimed(new Owner(tenant, jobId, recordId, token), epoch);
      case "done" -> new Done(epoch, (String) r.get(2));
      case "published" -> new AlreadyPublished(epoch);
      case "inflight" -> new InFlight((String) r.get(2));
      default -> new Busy((String) r.get(2));
    };
  }

  /**
   * Keeps a claim's owner alive (heartbeat every fifth of {@code runningTtl}) until the hold is
   * closed; the hold says when another delivery took the job (then this one must stop). A heartbeat
   * that cannot reach Redis changes nothing: nobody can take the claim from a Redis that does not
   * answer, and one that lost its data gets the claim back from the next heartbeat.
   */
  Hold hold(Claimed c) {
    Hold h = new Hold(c);
    holds.add(h);
    return h;
  }

  /**
   * A claim kept alive by the heartbeat; close it once the outcome is published or the job given
   * up.
   */
  final class Hold implements AutoCloseable {
    private final Claimed claimed;
    private volatile boolean lost;

    private Hold(Claimed claimed) {
      this.claimed = claimed;
    }

    Claimed claimed() {
      return claimed;
    }

    /** Whether another delivery owns the job now (seen by a heartbeat). */
    boolean lost() {
      return lost;
    }

    @Override
    public void close() {
      holds.remove(this);
    }
  }

  private void beat() {
    for (Hold h : holds) {
      if (!h.lost && !renew(h.claimed)) {
        h.lost = true;
        LOG.warn(
            "claim of job {}/{} was taken by another delivery",
            h.claimed.owner().tenant(),
            h.claimed.owner().jobId());
      }
    }
  }

  /**
   * Extends a claim's liveness. Returns false only when another delivery owns the job now; while
   * Redis is unreachable it returns true.
   */
  boolean renew(Claimed c) {
    try {
      Long r =
          connection
              .sync()
              .eval(
                  RENEW,
                  ScriptOutputType.INTEGER,
                  keys(c),
                  c.owner().token(),
                  Long.toString(runningTtl.toMillis()),
                  c.owner().recordId(),
                  Long.toString(c.epoch()),
                  Long.toString(KEEP_OUTCOME.toMillis()));
      if (r == 2) {
        LOG.warn("claim of job {} was gone from Redis; recreated it", c.owner().jobId());
      }
      return r != 0;
    } catch (RedisException e) {
      return true;
    } catch (RuntimeException e) { // NOPMD: the heartbeat thread must survive anything
      LOG.warn("claim heartbeat of job {} failed: {}", c.owner().jobId(), e.toString());
      return true;
    }
  }

  /**
   * Marks the job done with its terminal event (kept for replays); false if another delivery owns
   * it.
   */
  boolean done(Claimed c, String eventJson, BooleanSupplier keepTrying) {
    return settle(c, "done", eventJson, "", keepTrying);
  }

  /** Notes that the outcome went out, so a redelivery of the same record publishes nothing new. */
  void published(Claimed c, BooleanSupplier keepTrying) {
    try {
      call(
          cmd -> cmd.eval(PUBLISHED, ScriptOutputType.INTEGER, keys(c), c.owner().token()),
          keepTrying,
          "published " + c.owner().jobId());
    } catch (RedisException e) {
      // Without the mark a redelivery of the record republishes the stored outcome once more, above
      // every seq.
      LOG.warn(
          "job {}: could not mark its outcome published: {}", c.owner().jobId(), e.getMessage());
    }
  }

  /**
   * Gives the job up after an infrastructure error: any record of it may run it again, this one
   * included.
   */
  boolean release(Claimed c, BooleanSupplier keepTrying) {
    return settle(c, "released", "", "", keepTrying);
  }

  /**
   * Ends the job as failed or cancelled: another record with its id may run it again, but later
   * deliveries of this record only acknowledge it (its outcome is published already).
   */
  boolean end(Claimed c, BooleanSupplier keepTrying) {
    return settle(c, "released", "", c.owner().recordId(), keepTrying);
  }

  private boolean settle(
      Claimed c, String state, String eventJson, String endedRecord, BooleanSupplier keepTrying) {
    Long r =
        call(
            cmd ->
                cmd.eval(
                    SETTLE,
                    ScriptOutputType.INTEGER,
                    keys(c),
                    c.owner().token(),
                    state,
                    eventJson,
                    Long.toString(KEEP_OUTCOME.toMillis()),
                    Long.toString(c.epoch()),
                    endedRecord),
            keepTrying,
            state + " " + c.owner().jobId());
    return r == 1;
  }

  /** A fresh epoch for events about a record that is not run (rejected before any claim). */
  long nextEpoch(String tenant, String jobId, long floorEpoch, BooleanSupplier keepTrying) {
    String r =
        call(
            c ->
                c.eval(
                    NEXT_EPOCH,
                    ScriptOutputType.VALUE,
                    new String[] {key(tenant, jobId)},
                    Long.toString(floorEpoch),
                    Long.toString(KEEP_OUTCOME.toMillis())),
            keepTrying,
            "epoch " + jobId);
    return Long.parseLong(r);
  }

  /**
   * The claim's state: {@code running} (its owner is alive), {@code abandoned} (running, but the
   * owner's heartbeat stopped), {@code done}, {@code released}, or null if there is none.
   */
  String state(String tenant, String jobId, BooleanSupplier keepTrying) {
    return call(
        c -> c.eval(STATE, ScriptOutputType.VALUE, keys(tenant, jobId)),
        keepTrying,
        "state " + jobId);
  }

  /**
   * Dead letters once per record: whether this record (topic/partition/offset) was already rejected
   * and dead-lettered by an earlier delivery whose acknowledgement did not arrive.
   */
  boolean wasRejected(String tenant, String jobId, String recordId, BooleanSupplier keepTrying) {
    return call(
        c -> c.hexists(key(tenant, jobId), "rejected:" + recordId),
        keepTrying,
        "rejected? " + jobId);
  }

  /** Notes that this record was dead-lettered (see {@link #wasRejected}). */
  void markRejected(String tenant, String jobId, String recordId, BooleanSupplier keepTrying) {
    call(
        c -> c.hset(key(tenant, jobId), "rejected:" + recordId, "1"),
        keepTrying,
        "mark rejected " + jobId);
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
   * Runs a command, waiting through an outage while {@code keepTrying} holds, within the outage
   * limit ({@link RedisWait}).
   */
  private <T> T call(
      Function<RedisCommands<String, String>, T> op, BooleanSupplier keepTrying, String what) {
    return wait.call(() -> op.apply(connection.sync()), keepTrying, what);
  }

  @Override
  public void close() {
    heartbeat.shutdownNow();
    connection.close();
    RedisWait.shutdown(client);
  }
}
