package org.perfusionjobs.worker;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.perfusionjobs.contracts.BudgetOverrides;
import org.perfusionjobs.contracts.Budgets;
import org.perfusionjobs.contracts.ClientSecurity;
import org.perfusionjobs.contracts.KafkaConnection;
import org.perfusionjobs.contracts.Topics;

/**
 * Worker settings. {@link #from} reads them from a key/value map (environment variables such as
 * {@code PERFUSION_KAFKA}, or the keys of the {@code config/*.env} files); each key is documented
 * in {@code config/README.md}.
 */
public record WorkerConfig(
    String workerId,
    String bootstrapServers,
    String redisUri,
    Topics topics,
    String groupId,
    Path modelDir,
    String precision,
    String device,
    Duration blobTtl,
    Duration progressInterval,
    int previewEvery,
    Duration renewInterval,
    int httpPort,
    List<String> urlAllowList,
    int checkpointEvery,
    Path covariance,
    Path captions,
    Limits limits,
    Duration outageWait,
    Batching batching,
    ClientSecurity security) {

  /**
   * How generation requests share the model (docs/decisions.md 26).
   *
   * @param maxImages images per UNet call, and generation records one worker holds at once (one
   *     intake slot each); 1 runs one generation at a time
   * @param joinWait how long a denoising step waits for a joiner while the batch has room (0:
   *     never)
   */
  public record Batching(int maxImages, Duration joinWait) {
    public static final Batching DEFAULTS = new Batching(4, Duration.ZERO);

    public Batching {
      if (maxImages < 1 || maxImages > 64) {
        throw new IllegalArgumentException(
            "PERFUSION_MAX_BATCH must be in 1..64, got " + maxImages);
      }
      if (joinWait.isNegative() || joinWait.toMillis() > 10_000) {
        throw new IllegalArgumentException(
            "PERFUSION_BATCH_WAIT_MS must be in 0..10000, got " + joinWait.toMillis());
      }
    }
  }

  /**
   * What one job may cost and what the worker fetches.
   *
   * @param budgets compute budgets set in config; unset ones follow the model's size ({@link
   *     Budgets#forModelSize})
   * @param fetchPrivateAddresses fetch image URLs that resolve to loopback, private or link-local
   *     addresses; false in production (SSRF), tests turn it on to serve images from 127.0.0.1
   * @param fetchDeadline the whole of one URL fetch: connect, headers and body
   * @param fetchMaxBytes the most bytes one fetched image may have (Content-Length first, then
   *     counted)
   */
  public record Limits(
      BudgetOverrides budgets,
      boolean fetchPrivateAddresses,
      Duration fetchDeadline,
      int fetchMaxBytes) {
    public static final Limits DEFAULTS =
        new Limits(BudgetOverrides.NONE, false, Duration.ofSeconds(20), 8 * 1024 * 1024);

    public Limits {
      Objects.requireNonNull(budgets, "budgets");
      if (fetchDeadline.toMillis() < 100 || fetchMaxBytes < 1) {
        throw new IllegalArgumentException(
            "fetchDeadline must be at least 100 ms and fetchMaxBytes at least 1, got "
                + fetchDeadline
                + ", "
                + fetchMaxBytes);
      }
    }

    public Limits withFetchPrivateAddresses(boolean allow) {
      return new Limits(budgets, allow, fetchDeadline, fetchMaxBytes);
    }

    public Limits withFetch(Duration deadline, int maxBytes) {
      return new Limits(budgets, fetchPrivateAddresses, deadline, maxBytes);
    }

    public Limits withBudgets(BudgetOverrides b) {
      return new Limits(b, fetchPrivateAddresses, fetchDeadline, fetchMaxBytes);
    }
  }

  /**
   * How long a job waits for an unreachable Redis or broker before its record is released (never
   * failed) for another delivery: {@code PERFUSION_OUTAGE_WAIT_MS}, 10 minutes by default.
   */
  public static final Duration DEFAULT_OUTAGE_WAIT = Duration.ofMinutes(10);

  public WorkerConfig {
    Objects.requireNonNull(bootstrapServers, "bootstrapServers");
    Objects.requireNonNull(redisUri, "redisUri");
    Objects.requireNonNull(modelDir, "modelDir");
    if (renewInterval.toMillis() < 100) {
      throw new IllegalArgumentException(
          "renewInterval must be at least 100 ms, got " + renewInterval);
    }
    urlAllowList = List.copyOf(urlAllowList);
    limits = limits != null ? limits : Limits.DEFAULTS;
    batching = batching != null ? batching : Batching.DEFAULTS;
    security = security != null ? security : ClientSecurity.NONE;
    outageWait = outageWait != null ? outageWait : DEFAULT_OUTAGE_WAIT;
    if (outageWait.toMillis() < 1000) {
      throw new IllegalArgumentException("outageWait must be at least 1 s, got " + outageWait);
    }
  }

  /** Where and how every Kafka client of this worker connects (bootstrap servers, SASL, TLS). */
  public KafkaConnection kafka() {
    return new KafkaConnection(bootstrapServers, security.kafka());
  }

  /** This worker's budgets for a model whose own images are {@code modelSide} pixels a side. */
  public Budgets budgets(int modelSide) {
    return limits.budgets().resolve(modelSide);
  }

  /** Defaults for one local worker. */
  public static WorkerConfig local(
      String bootstrap, String redisUri, Topics topics, Path modelDir) {
    return new WorkerConfig(
        "worker-" + ProcessHandle.current().pid(),
        bootstrap,
        redisUri,
        topics,
        "perfusion-workers",
        modelDir,
        "fp32",
        "cpu",
        Duration.ofHours(24),
        Duration.ofMillis(250),
        5,
        Duration.ofSeconds(5),
        0,
        List.of(),
        25,
        null,
        null,
        Limits.DEFAULTS,
        DEFAULT_OUTAGE_WAIT,
        Batching.DEFAULTS,
        ClientSecurity.NONE);
  }

  /**
   * From settings named like the environment variables (PERFUSION_*); missing ones take the local
   * defaults.
   */
  public static WorkerConfig from(Map<String, String> env) {
    String kafka = require(env, "PERFUSION_KAFKA");
    String redis = require(env, "PERFUSION_REDIS");
    Path model = Path.of(require(env, "PERFUSION_MODEL"));
    WorkerConfig d =
        local(
            kafka,
            redis,
            new Topics(env.getOrDefault("PERFUSION_TOPIC_PREFIX", "perfusion.")),
            model);
    return d.toBuilder()
        .workerId(env.getOrDefault("PERFUSION_WORKER_ID", d.workerId()))
        .groupId(env.getOrDefault("PERFUSION_GROUP", d.groupId()))
        .precision(env.getOrDefault("PERFUSION_PRECISION", d.precision()))
        .device(env.getOrDefault("PERFUSION_DEVICE", d.device()))
        .blobTtl(
            Duration.ofSeconds(
                Long.parseLong(env.getOrDefault("PERFUSION_BLOB_TTL_SECONDS", "86400"))))
        .progressInterval(
            Duration.ofMillis(
                Long.parseLong(env.getOrDefault("PERFUSION_PROGRESS_INTERVAL_MS", "250"))))
        .previewEvery(Integer.parseInt(env.getOrDefault("PERFUSION_PREVIEW_EVERY", "5")))
        .renewInterval(
            Duration.ofMillis(
                Long.parseLong(env.getOrDefault("PERFUSION_RENEW_INTERVAL_MS", "5000"))))
        .httpPort(Integer.parseInt(env.getOrDefault("PERFUSION_WORKER_HTTP_PORT", "0")))
        .urlAllowList(
            env.containsKey("PERFUSION_URL_ALLOW_LIST")
                ? Arrays.stream(env.get("PERFUSION_URL_ALLOW_LIST").split(","))
                    .map(String::strip)
                    .filter(s -> !s.isEmpty())
                    .toList()
                : List.of())
        .checkpointEvery(Integer.parseInt(env.getOrDefault("PERFUSION_CHECKPOINT_EVERY", "25")))
        .covariance(
            env.containsKey("PERFUSION_COVARIANCE")
                ? Path.of(env.get("PERFUSION_COVARIANCE"))
                : null)
        .captions(
            env.containsKey("PERFUSION_CAPTIONS") ? Path.of(env.get("PERFUSION_CAPTIONS")) : null)
        .limits(
            new Limits(
                BudgetOverrides.from(env),
                Boolean.parseBoolean(
                    env.getOrDefault("PERFUSION_FETCH_PRIVATE_ADDRESSES", "false")),
                Duration.ofMillis(
                    Long.parseLong(env.getOrDefault("PERFUSION_FETCH_DEADLINE_MS", "20000"))),
                Integer.parseInt(
                    env.getOrDefault(
                        "PERFUSION_FETCH_MAX_BYTES",
                        Integer.toString(Limits.DEFAULTS.fetchMaxBytes())))))
        .outageWait(
            Duration.ofMillis(
                Long.parseLong(
                    env.getOrDefault(
                        "PERFUSION_OUTAGE_WAIT_MS",
                        Long.toString(DEFAULT_OUTAGE_WAIT.toMillis())))))
        .batching(
            new Batching(
                Integer.parseInt(
                    env.getOrDefault(
                        "PERFUSION_MAX_BATCH", Integer.toString(Batching.DEFAULTS.maxImages()))),
                Duration.ofMillis(
                    Long.parseLong(env.getOrDefault("PERFUSION_BATCH_WAIT_MS", "0")))))
        .security(ClientSecurity.from(env))
        .build();
  }

  private static String require(Map<String, String> env, String key) {
    String v = env.get(key);
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException("setting " + key + " is missing");
    }
    return v;
  }

  public WorkerConfig withSecurity(ClientSecurity v) {
    return toBuilder().security(v).build();
  }

  public WorkerConfig withWorkerId(String v) {
    return toBuilder().workerId(v).build();
  }

  public WorkerConfig withUrlAllowList(List<String> v) {
    return toBuilder().urlAllowList(v).build();
  }

  public WorkerConfig withCaptions(Path v) {
    return toBuilder().captions(v).build();
  }

  public WorkerConfig withLimits(Limits v) {
    return toBuilder().limits(v).build();
  }

  public WorkerConfig withRenewInterval(Duration v) {
    return toBuilder().renewInterval(v).build();
  }

  public WorkerConfig withOutageWait(Duration v) {
    return toBuilder().outageWait(v).build();
  }

  public WorkerConfig withCovariance(Path v) {
    return toBuilder().covariance(v).build();
  }

  public WorkerConfig withBatching(Batching v) {
    return toBuilder().batching(v).build();
  }

  /** A builder holding this config's values: change some, {@code build()} validates all. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.workerId = workerId;
    b.bootstrapServers = bootstrapServers;
    b.redisUri = redisUri;
    b.topics = topics;
    b.groupId = groupId;
    b.modelDir = modelDir;
    b.precision = precision;
    b.device = device;
    b.blobTtl = blobTtl;
    b.progressInterval = progressInterval;
    b.previewEvery = previewEvery;
    b.renewInterval = renewInterval;
    b.httpPort = httpPort;
    b.urlAllowList = urlAllowList;
    b.checkpointEvery = checkpointEvery;
    b.covariance = covariance;
    b.captions = captions;
    b.limits = limits;
    b.outageWait = outageWait;
    b.batching = batching;
    b.security = security;
    return b;
  }

  /** Copies of a config with some values changed, without a positional constructor call each. */
  public static final class Builder {
    private String workerId;
    private String bootstrapServers;
    private String redisUri;
    private Topics topics;
    private String groupId;
    private Path modelDir;
    private String precision;
    private String device;
    private Duration blobTtl;
    private Duration progressInterval;
    private int previewEvery;
    private Duration renewInterval;
    private int httpPort;
    private List<String> urlAllowList;
    private int checkpointEvery;
    private Path covariance;
    private Path captions;
    private Limits limits;
    private Duration outageWait;
    private Batching batching;
    private ClientSecurity security;

    private Builder() {}

    public Builder workerId(String v) {
      workerId = v;
      return this;
    }

    public Builder bootstrapServers(String v) {
      bootstrapServers = v;
      return this;
    }

    public Builder redisUri(String v) {
      redisUri = v;
      return this;
    }

    public Builder topics(Topics v) {
      topics = v;
      return this;
    }

    public Builder groupId(String v) {
      groupId = v;
      return this;
    }

    public Builder modelDir(Path v) {
      modelDir = v;
      return this;
    }

    public Builder precision(String v) {
      precision = v;
      return this;
    }

    public Builder device(String v) {
      device = v;
      return this;
    }

    public Builder blobTtl(Duration v) {
      blobTtl = v;
      return this;
    }

    public Builder progressInterval(Duration v) {
      progressInterval = v;
      return this;
    }

    public Builder previewEvery(int v) {
      previewEvery = v;
      return this;
    }

    public Builder renewInterval(Duration v) {
      renewInterval = v;
      return this;
    }

    public Builder httpPort(int v) {
      httpPort = v;
      return this;
    }

    public Builder urlAllowList(List<String> v) {
      urlAllowList = v;
      return this;
    }

    public Builder checkpointEvery(int v) {
      checkpointEvery = v;
      return this;
    }

    public Builder covariance(Path v) {
      covariance = v;
      return this;
    }

    public Builder captions(Path v) {
      captions = v;
      return this;
    }

    public Builder limits(Limits v) {
      limits = v;
      return this;
    }

    public Builder outageWait(Duration v) {
      outageWait = v;
      return this;
    }

    public Builder batching(Batching v) {
      batching = v;
      return this;
    }

    public Builder security(ClientSecurity v) {
      security = v;
      return this;
    }

    public WorkerConfig build() {
      return new WorkerConfig(
          workerId,
          bootstrapServers,
          redisUri,
          topics,
          groupId,
          modelDir,
          precision,
          device,
          blobTtl,
          progressInterval,
          previewEvery,
          renewInterval,
          httpPort,
          urlAllowList,
          checkpointEvery,
          covariance,
          captions,
          limits,
          outageWait,
          batching,
          security);
    }
  }
}
