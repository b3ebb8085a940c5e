package org.perfusionjobs.gateway;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Per-tenant limits that hold across every gateway sharing one Redis (issue 20): the write-rate
 * token bucket and the WebSocket subscription count live in Redis and change only inside Lua
 * scripts, so two gateways cannot both spend the last token or take the last slot.
 *
 * <p>Subscriptions are counted per gateway (a hash per tenant, one field per gateway) and summed
 * over the gateways that are alive: each gateway refreshes its entry in {@code limits:gateways}
 * every {@link #HEARTBEAT} and re-asserts its own counts, so the slots of a gateway that died
 * without releasing them stop counting after {@link #GATEWAY_TTL}. Every call is asynchronous; none
 * blocks the event loop.
 */
final class TenantLimits {
  static final Duration HEARTBEAT = Duration.ofSeconds(5);
  static final Duration GATEWAY_TTL = Duration.ofSeconds(15);
  static final String GATEWAYS = "limits:gateways";

  /**
   * Token bucket: KEYS[1] the tenant's bucket; ARGV burst, rate per second. Time is Redis's own, so
   * gateways with skewed clocks share one bucket correctly. Returns 1 if a token was taken.
   */
  private static final String TAKE_TOKEN =
      """
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      local burst = tonumber(ARGV[1])
      local rate = tonumber(ARGV[2])
      local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
      local tokens = tonumber(b[1])
      local ts = tonumber(b[2])
      if tokens == nil or ts == nil then tokens = burst; ts = now end
      tokens = math.min(burst, tokens + math.max(0, now - ts) / 1000 * rate)
      local taken = 0
      if tokens >= 1 then tokens = tokens - 1; taken = 1 end
      redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
      redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
      return taken
      """;

  /**
   * Subscription slots: KEYS[1] the tenant's hash (gateway -> slots held), KEYS[2] the gateways'
   * expiry times; ARGV this gateway, change (negative: release), cap, hash TTL in seconds. Fields
   * of gateways whose heartbeat lapsed are removed. Returns the slots granted (a release: 0).
   */
  private static final String CHANGE_SLOTS =
      """
      local now = tonumber(redis.call('TIME')[1])
      local total = 0
      local fields = redis.call('HGETALL', KEYS[1])
      for i = 1, #fields, 2 do
        local gw = fields[i]
        local exp = redis.call('ZSCORE', KEYS[2], gw)
        if gw ~= ARGV[1] and (not exp or tonumber(exp) < now) then
          redis.call('HDEL', KEYS[1], gw)
        else
          total = total + tonumber(fields[i + 1])
        end
      end
      local delta = tonumber(ARGV[2])
      if delta > 0 then delta = math.max(0, math.min(delta, tonumber(ARGV[3]) - total)) end
      if delta ~= 0 then
        local v = redis.call('HINCRBY', KEYS[1], ARGV[1], delta)
        if v <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
      end
      redis.call('EXPIRE', KEYS[1], ARGV[4])
      if delta > 0 then return delta end
      return 0
      """;

  /** Heartbeat: KEYS[1] the gateways' expiry times; ARGV this gateway, TTL in seconds. */
  private static final String HEARTBEAT_SCRIPT =
      """
      local now = tonumber(redis.call('TIME')[1])
      redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
      redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600)
      return 1
      """;

  private final String gatewayId = "gw-" + UUID.randomUUID();
  private final Vertx vertx;
  private final Context context;
  private final RedisAsyncCommands<String, String> redis;
  private final GatewayConfig.Limits limits;

  /** Slots this gateway holds per tenant (what its heartbeat re-asserts). */
  private final Map<String, AtomicInteger> held = new ConcurrentHashMap<>();

  private long timer = -1;

  TenantLimits(
      Vertx vertx,
      Context context,
      StatefulRedisConnection<String, String> redis,
      GatewayConfig.Limits limits) {
    this.vertx = vertx;
    this.context = context;
    this.redis = redis.async();
    this.limits = limits;
  }

  /** Registers this gateway as alive and keeps it so. */
  Future<Void> start() {
    timer = vertx.setPeriodic(HEARTBEAT.toMillis(), id -> heartbeat());
    return heartbeat()
        .recover(
            e -> {
              vertx.cancelTimer(timer);
              return Future.failedFuture(
                  new IllegalStateException(
                      "the gateway keeps per-tenant limits in Redis with Lua scripts and could"
                          + " not run one ("
                          + e.getMessage()
                          + "); give the PERFUSION_REDIS_USERNAME user +@scripting and the"
                          + " hash, sorted-set and key commands"));
            });
  }

  private Future<Void> heartbeat() {
    Future<Object> alive =
        on(
            redis.eval(
                HEARTBEAT_SCRIPT,
                ScriptOutputType.INTEGER,
                new String[] {GATEWAYS},
                gatewayId,
                Long.toString(GATEWAY_TTL.toSeconds())));
    // Our own counts again if another gateway removed them while our heartbeat lapsed (only then:
    // an absolute write could undo a grant still on its way back to us).
    held.forEach(
        (tenant, n) -> {
          if (n.get() > 0) {
            redis.hsetnx(subscriptionsKey(tenant), gatewayId, Integer.toString(n.get()));
            redis.expire(subscriptionsKey(tenant), hashTtlSeconds());
          }
        });
    return alive.mapEmpty();
  }

  /** Whether {@code tenant} may make one more write now (POST, DELETE) across all gateways. */
  Future<Boolean> tryWrite(String tenant) {
    return on(redis.<Long>eval(
            TAKE_TOKEN,
            ScriptOutputType.INTEGER,
            new String[] {"limits:writes:" + tenant},
            Integer.toString(limits.writeBurst()),
            Double.toString(limits.writesPerSecond())))
        .map(taken -> taken == 1L);
  }

  /** Takes up to {@code wanted} subscription slots of {@code tenant}; the number granted. */
  Future<Integer> acquire(String tenant, int wanted) {
    if (wanted <= 0) {
      return Future.succeededFuture(0);
    }
    AtomicInteger mine = held.computeIfAbsent(tenant, t -> new AtomicInteger());
    return on(redis.<Long>eval(
            CHANGE_SLOTS,
            ScriptOutputType.INTEGER,
            new String[] {subscriptionsKey(tenant), GATEWAYS},
            gatewayId,
            Integer.toString(wanted),
            Integer.toString(limits.subscriptionsPerTenant()),
            Long.toString(hashTtlSeconds())))
        .map(
            granted -> {
              mine.addAndGet(granted.intValue());
              return granted.intValue();
            });
  }

  /** Gives back {@code n} slots of {@code tenant} (unsubscribe, connection closed). */
  void release(String tenant, int n) {
    if (n <= 0) {
      return;
    }
    held.computeIfAbsent(tenant, t -> new AtomicInteger()).addAndGet(-n);
    redis.eval(
        CHANGE_SLOTS,
        ScriptOutputType.INTEGER,
        new String[] {subscriptionsKey(tenant), GATEWAYS},
        gatewayId,
        Integer.toString(-n),
        Integer.toString(limits.subscriptionsPerTenant()),
        Long.toString(hashTtlSeconds()));
  }

  /** Stops the heartbeat and gives back every slot this gateway holds. */
  Future<Void> stop() {
    vertx.cancelTimer(timer);
    held.forEach((tenant, n) -> redis.hdel(subscriptionsKey(tenant), gatewayId));
    return on(redis.zrem(GATEWAYS, gatewayId)).mapEmpty();
  }

  private static String subscriptionsKey(String tenant) {
    return "limits:subscriptions:" + tenant;
  }

  /** A tenant's hash outlives the last gateway that touched it by a little. */
  private static long hashTtlSeconds() {
    return GATEWAY_TTL.toSeconds() * 4;
  }

  private <T> Future<T> on(CompletionStage<T> stage) {
    return Future.fromCompletionStage(stage, context);
  }
}
