package org.perfusionjobs.gateway;

import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.perfusionjobs.contracts.BudgetOverrides;
import org.perfusionjobs.contracts.ClientSecurity;
import org.perfusionjobs.contracts.KafkaConnection;
import org.perfusionjobs.contracts.Topics;

/**
 * Gateway settings. {@code tokens} maps bearer tokens to tenants (from {@code
 * PERFUSION_TOKENS=token1:tenant1,token2:tenant2}); {@code limits} holds what one tenant and one
 * connection may use (config/README.md, docs/security.md).
 */
public record GatewayConfig(
    String bootstrapServers,
    String redisUri,
    Topics topics,
    int httpPort,
    Map<String, String> tokens,
    Duration blobTtl,
    Limits limits,
    ClientSecurity security) {

  /**
   * @param maxBlobBytes largest upload to {@code POST /v1/blobs} (413 above)
   * @param blobQuotaBytes bytes one tenant may upload per blob lifetime window (429 above)
   * @param subscriptionsPerConnection WebSocket subscriptions one connection may hold
   * @param subscriptionsPerTenant WebSocket subscriptions one tenant may hold on this gateway, all
   *     connections together
   * @param writesPerSecond sustained POST/DELETE requests per tenant per second (token bucket)
   * @param writeBurst POST/DELETE requests a tenant may make at once before the rate applies (429
   *     above)
   * @param allowedOrigins browser origins allowed to open the WebSocket; empty = the gateway's own
   *     origin only
   * @param modelSize the model's own image side in pixels (what width/height 0 mean) for the
   *     budgets
   * @param budgets budgets set in config; unset ones follow {@code modelSize}
   */
  public record Limits(
      long maxBlobBytes,
      long blobQuotaBytes,
      int subscriptionsPerConnection,
      int subscriptionsPerTenant,
      double writesPerSecond,
      int writeBurst,
      List<String> allowedOrigins,
      int modelSize,
      BudgetOverrides budgets) {
    public static final Limits DEFAULTS =
        new Limits(
            8L * 1024 * 1024,
            256L * 1024 * 1024,
            100,
            1000,
            2.0,
            30,
            List.of(),
            512,
            BudgetOverrides.NONE);

    public Limits {
      allowedOrigins = List.copyOf(allowedOrigins);
      Objects.requireNonNull(budgets, "budgets");
      if (maxBlobBytes < 1
          || blobQuotaBytes < 1
          || subscriptionsPerConnection < 1
          || subscriptionsPerTenant < 1
          || writesPerSecond <= 0
          || writeBurst < 1
          || modelSize < 1) {
        throw new IllegalArgumentException("gateway limits must all be positive: " + this);
      }
    }

    public Limits withSubscriptions(int perConnection, int perTenant) {
      return new Limits(
          maxBlobBytes,
          blobQuotaBytes,
          perConnection,
          perTenant,
          writesPerSecond,
          writeBurst,
          allowedOrigins,
          modelSize,
          budgets);
    }

    public Limits withWriteRate(double perSecond, int burst) {
      return new Limits(
          maxBlobBytes,
          blobQuotaBytes,
          subscriptionsPerConnection,
          subscriptionsPerTenant,
          perSecond,
          burst,
          allowedOrigins,
          modelSize,
          budgets);
    }

    public Limits withAllowedOrigins(List<String> origins) {
      return new Limits(
          maxBlobBytes,
          blobQuotaBytes,
          subscriptionsPerConnection,
          subscriptionsPerTenant,
          writesPerSecond,
          writeBurst,
          origins,
          modelSize,
          budgets);
    }

    public Limits withModelSize(int side) {
      return new Limits(
          maxBlobBytes,
          blobQuotaBytes,
          subscriptionsPerConnection,
          subscriptionsPerTenant,
          writesPerSecond,
          writeBurst,
          allowedOrigins,
          side,
          budgets);
    }

    public Limits withBlobs(long maxBytes, long quotaBytes) {
      return new Limits(
          maxBytes,
          quotaBytes,
          subscriptionsPerConnection,
          subscriptionsPerTenant,
          writesPerSecond,
          writeBurst,
          allowedOrigins,
          modelSize,
          budgets);
    }
  }

  public GatewayConfig {
    tokens = Map.copyOf(tokens);
    limits = limits != null ? limits : Limits.DEFAULTS;
    security = security != null ? security : ClientSecurity.NONE;
    if (tokens.isEmpty()) {
      throw new IllegalArgumentException("tokens: at least one bearer token must be configured");
    }
  }

  /**
   * With the default limits and no Kafka or Redis credentials (the local stack, tests); {@link
   * #withLimits} and {@link #withSecurity} change them.
   */
  public GatewayConfig(
      String bootstrapServers,
      String redisUri,
      Topics topics,
      int httpPort,
      Map<String, String> tokens,
      Duration blobTtl) {
    this(
        bootstrapServers,
        redisUri,
        topics,
        httpPort,
        tokens,
        blobTtl,
        Limits.DEFAULTS,
        ClientSecurity.NONE);
  }

  public GatewayConfig withLimits(Limits l) {
    return new GatewayConfig(
        bootstrapServers, redisUri, topics, httpPort, tokens, blobTtl, l, security);
  }

  public GatewayConfig withSecurity(ClientSecurity s) {
    return new GatewayConfig(
        bootstrapServers, redisUri, topics, httpPort, tokens, blobTtl, limits, s);
  }

  /** Where and how every Kafka client of this gateway connects (bootstrap servers, SASL, TLS). */
  public KafkaConnection kafka() {
    return new KafkaConnection(bootstrapServers, security.kafka());
  }

  /**
   * Tokens and passwords are left out: this is what a log may show. ({@code security} prints its
   * secrets redacted.)
   */
  @Override
  public String toString() {
    return "GatewayConfig[bootstrapServers="
        + bootstrapServers
        + ", topics="
        + topics
        + ", httpPort="
        + httpPort
        + ", tenants="
        + Set.copyOf(tokens.values())
        + ", blobTtl="
        + blobTtl
        + ", limits="
        + limits
        + ", security="
        + security
        + "]";
  }

  public static GatewayConfig from(Map<String, String> env) {
    Map<String, String> tokens = new HashMap<>();
    for (String pair : env.getOrDefault("PERFUSION_TOKENS", "").split(",")) {
      String[] kv = pair.strip().split(":");
      if (kv.length == 2) {
        tokens.put(kv[0], kv[1]);
      }
    }
    Limits d = Limits.DEFAULTS;
    Limits limits =
        new Limits(
            Long.parseLong(
                env.getOrDefault("PERFUSION_MAX_BLOB_BYTES", Long.toString(d.maxBlobBytes()))),
            Long.parseLong(
                env.getOrDefault("PERFUSION_BLOB_QUOTA_BYTES", Long.toString(d.blobQuotaBytes()))),
            Integer.parseInt(
                env.getOrDefault(
                    "PERFUSION_WS_SUBSCRIPTIONS_PER_CONNECTION",
                    Integer.toString(d.subscriptionsPerConnection()))),
            Integer.parseInt(
                env.getOrDefault(
                    "PERFUSION_WS_SUBSCRIPTIONS_PER_TENANT",
                    Integer.toString(d.subscriptionsPerTenant()))),
            Double.parseDouble(
                env.getOrDefault(
                    "PERFUSION_WRITES_PER_SECOND", Double.toString(d.writesPerSecond()))),
            Integer.parseInt(
                env.getOrDefault("PERFUSION_WRITE_BURST", Integer.toString(d.writeBurst()))),
            Arrays.stream(env.getOrDefault("PERFUSION_ALLOWED_ORIGINS", "").split(","))
                .map(String::strip)
                .filter(s -> !s.isEmpty())
                .toList(),
            Integer.parseInt(
                env.getOrDefault("PERFUSION_MODEL_SIZE", Integer.toString(d.modelSize()))),
            BudgetOverrides.from(env));
    return new GatewayConfig(
        required(env, "PERFUSION_KAFKA"),
        required(env, "PERFUSION_REDIS"),
        new Topics(env.getOrDefault("PERFUSION_TOPIC_PREFIX", "perfusion.")),
        Integer.parseInt(env.getOrDefault("PERFUSION_GATEWAY_PORT", "8080")),
        tokens,
        Duration.ofSeconds(Long.parseLong(env.getOrDefault("PERFUSION_BLOB_TTL_SECONDS", "86400"))),
        limits,
        ClientSecurity.from(env));
  }

  private static String required(Map<String, String> env, String key) {
    String v = env.get(key);
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException("setting " + key + " is missing");
    }
    return v;
  }
}
