package org.perfusionjobs.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.ExpireArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.producer.KafkaProducer;
import io.vertx.kafka.client.producer.KafkaProducerRecord;
import java.io.IOException;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.perfusionjobs.contracts.Budgets;
import org.perfusionjobs.contracts.CancelRequestV1;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.FieldError;
import org.perfusionjobs.contracts.GenerateRequestV1;
import org.perfusionjobs.contracts.InvalidEventException;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.RedisSecurity;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.TenantScope;
import org.perfusionjobs.contracts.TrainRequest;

/**
 * HTTP and WebSocket face of the job system. REST: submit jobs (producing the same events an
 * upstream app would), job status, result images, cancel, blob upload, concepts per tenant.
 * WebSocket {@code /v1/ws}: subscribe to jobs, get the current snapshot at once and then every
 * event in order; a client that reconnects gives the last seq it saw and gets only what followed.
 * Every request carries a bearer token that names its tenant; a tenant sees only its own jobs,
 * images and concepts. State comes from the events and registry topics (read from the beginning),
 * so any number of gateways can run side by side.
 *
 * <p>Security (docs/security.md): the token is checked before any body is read; bodies are read
 * only on the routes that take one, in memory, up to a limit (413 above), never as files. Every
 * job, blob and concept id is kept under its tenant ({@link TenantScope}): another tenant's id
 * answers exactly like an id that does not exist, on REST and WebSocket alike, and every event is
 * checked against the subscriber's tenant before it is sent. Subscriptions are capped per
 * connection and per tenant, writes are rate-limited per tenant, requests over the model's budgets
 * are refused, browsers may open the WebSocket only from allowed origins, and every response
 * carries a Content-Security-Policy and nosniff. Errors are one line of JSON, never a stack trace.
 */
public final class GatewayVerticle extends VerticleBase {
  private final GatewayConfig cfg;
  private final Map<String, JobView> jobs = new ConcurrentHashMap<>();
  private final Map<String, ConceptRegistered> concepts = new ConcurrentHashMap<>();

  /** Scoped job id ({@code <tenant>/<jobId>}) to the connections subscribed to it. */
  private final Map<String, Set<Subscriber>> subscribers = new ConcurrentHashMap<>();

  /** Write rate and subscription slots per tenant, shared by all gateways through Redis. */
  private TenantLimits tenantLimits;

  private StatefulRedisConnection<String, String> limitsRedis;

  private final EventGate eventGate = new EventGate();
  private Budgets budgets;
  private KafkaProducer<String, byte[]> producer;
  private KafkaConsumer<String, byte[]> eventsConsumer;
  private KafkaConsumer<String, byte[]> conceptsConsumer;
  private RedisClient redisClient;
  private Admin admin; // readiness probe of the broker
  private static final int PROBE_TIMEOUT_MS = 2000;
  private StatefulRedisConnection<String, byte[]> redis;
  private HttpServer server;

  public GatewayVerticle(GatewayConfig cfg) {
    this.cfg = cfg;
    this.budgets = cfg.limits().budgets().resolve(cfg.limits().modelSize());
  }

  /** One WebSocket connection of one tenant. */
  private record Subscriber(ServerWebSocket ws, String tenant) {}

  @Override
  public Future<?> start() {
    producer =
        KafkaProducer.create(
            vertx,
            cfg.kafka()
                .config(
                    Map.of(
                        "key.serializer",
                        "org.apache.kafka.common.serialization.StringSerializer",
                        "value.serializer",
                        "org.apache.kafka.common.serialization.ByteArraySerializer",
                        "acks",
                        "all",
                        "linger.ms",
                        "0")));
    eventsConsumer = consumer();
    eventsConsumer.handler(r -> onEvent(r.record()));
    conceptsConsumer = consumer();
    conceptsConsumer.handler(
        r -> {
          if (r.key() == null) {
            return;
          }
          if (r.value() == null) {
            concepts.remove(r.key());
          } else {
            try {
              // Keyed <tenant>/<conceptId>; an entry whose key does not match its own tenant and id
              // is ignored.
              ConceptRegistered c = RecordCodec.read(r.value(), ConceptRegistered.class);
              if (c.tenant() != null
                  && c.conceptId() != null
                  && TenantScope.of(c.tenant(), c.conceptId()).equals(r.key())) {
                concepts.put(r.key(), c);
              }
            } catch (IOException | IllegalArgumentException ignored) {
              // written only by workers
            }
          }
        });
    return vertx
        .executeBlocking(
            () -> {
              admin =
                  Admin.create(
                      cfg.kafka()
                          .objectConfig(
                              Map.of(
                                  "request.timeout.ms",
                                  PROBE_TIMEOUT_MS,
                                  "default.api.timeout.ms",
                                  PROBE_TIMEOUT_MS)));
              RedisSecurity rs = cfg.security().redis();
              redisClient =
                  rs.client(null, cfg.redisUri(), Duration.ofSeconds(2), ClientOptions.builder());
              // A refused login fails the start with one line naming the setting.
              try {
                redis =
                    rs.connect(
                        redisClient, RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
                limitsRedis = rs.connect(redisClient, StringCodec.UTF8);
              } catch (RuntimeException e) {
                redisClient.shutdown();
                admin.close(Duration.ZERO);
                throw e;
              }
              tenantLimits = new TenantLimits(vertx, context, limitsRedis, cfg.limits());
              return null;
            })
        .compose(v -> tenantLimits.start())
        .compose(v -> eventsConsumer.subscribe(cfg.topics().events()))
        .compose(v -> conceptsConsumer.subscribe(cfg.topics().concepts()))
        .compose(
            v ->
                vertx
                    .createHttpServer(
                        new HttpServerOptions()
                            .setMaxWebSocketMessageSize(64 * 1024)
                            .setMaxWebSocketFrameSize(64 * 1024)
                            .setMaxFormAttributeSize(8 * 1024)
                            .setMaxHeaderSize(16 * 1024))
                    .requestHandler(router())
                    .listen(cfg.httpPort(), "127.0.0.1"))
        .onSuccess(s -> server = s);
  }

  private KafkaConsumer<String, byte[]> consumer() {
    KafkaConsumer<String, byte[]> c =
        KafkaConsumer.create(
            vertx,
            cfg.kafka()
                .config(
                    Map.of(
                        "group.id",
                        "perfusion-gateway-" + UUID.randomUUID(),
                        "auto.offset.reset",
                        "earliest",
                        "enable.auto.commit",
                        "false",
                        "key.deserializer",
                        "org.apache.kafka.common.serialization.StringDeserializer",
                        "value.deserializer",
                        "org.apache.kafka.common.serialization.ByteArrayDeserializer")));
    c.pollTimeout(Duration.ofMillis(100));
    return c;
  }

  public int port() {
    return server.actualPort();
  }

  private void onEvent(org.apache.kafka.clients.consumer.ConsumerRecord<String, byte[]> r) {
    // Validated against the job-event schema before anything uses it; invalid ones are dropped.
    JobEvent e = eventGate.admit(r);
    if (e == null) {
      return;
    }
    String key = TenantScope.of(e.tenant(), e.jobId());
    JobView view = jobs.computeIfAbsent(key, id -> new JobView(e.jobId(), e.tenant()));
    if (!view.tenant.equals(e.tenant()) || !view.add(e)) {
      return;
    }
    String json = frame("event", e);
    for (Subscriber sub : subscribers.getOrDefault(key, Set.of())) {
      if (sub.tenant().equals(e.tenant())) { // checked for every event, whatever the map says
        sub.ws().writeTextMessage(json);
      }
    }
  }

  private Router router() {
    Router r = Router.router(vertx);
    r.route().handler(GatewayVerticle::securityHeaders);
    r.get("/health/live").handler(ctx -> ctx.response().end("ok"));
    r.get("/metrics")
        .handler(
            ctx ->
                ctx.response()
                    .putHeader("content-type", "text/plain; version=0.0.4")
                    .end(eventGate.metrics()));
    r.get("/health/ready")
        .handler(
            ctx ->
                readiness()
                    .onComplete(
                        ar -> {
                          String why =
                              ar.succeeded()
                                  ? ar.result()
                                  : "not ready: " + ar.cause().getMessage();
                          ctx.response().setStatusCode("ready".equals(why) ? 200 : 503).end(why);
                        }));
    r.route("/v1/ws").handler(this::webSocket);
    // Authentication first: no body is read for a request without a valid token.
    r.route("/v1/*").handler(this::authenticate);
    r.route("/v1/*").handler(this::rateLimit);
    // Bodies only where a route takes one, in memory (no file uploads), with a small limit (413
    // above).
    BodyHandler jobBody = BodyHandler.create(false).setBodyLimit(Schemas.MAX_REQUEST_BYTES);
    BodyHandler blobBody = BodyHandler.create(false).setBodyLimit(cfg.limits().maxBlobBytes());
    r.post("/v1/jobs/generate")
        .handler(jobBody)
        .handler(ctx -> submit(ctx, Schemas.GENERATE_REQUEST));
    r.post("/v1/jobs/train").handler(jobBody).handler(ctx -> submit(ctx, Schemas.TRAIN_REQUEST));
    r.get("/v1/jobs/:id").handler(this::status);
    r.get("/v1/jobs/:id/images/:n").handler(this::image);
    r.post("/v1/jobs/:id/cancel").handler(this::cancel);
    r.post("/v1/blobs").handler(blobBody).handler(this::upload);
    r.get("/v1/concepts")
        .handler(
            ctx ->
                json(
                    ctx,
                    200,
                    concepts.values().stream()
                        .filter(c -> c.tenant().equals(tenant(ctx)))
                        .map(GatewayVerticle::summary)
                        .toList()));
    r.get("/v1/concepts/:id")
        .handler(
            ctx ->
                ownConcept(ctx)
                    .ifPresentOrElse(c -> json(ctx, 200, summary(c)), () -> notFound(ctx)));
    r.delete("/v1/concepts/:id").handler(this::deleteConcept);
    r.route("/v1/*").handler(GatewayVerticle::notFound);
    r.route("/*").handler(StaticHandler.create("webroot"));
    // One line of JSON for every error, never a stack trace.
    for (int status : new int[] {400, 401, 403, 404, 405, 413, 414, 415, 429, 431, 500, 501, 503}) {
      r.errorHandler(
          status,
          ctx -> {
            // A request paused for the rate limit and refused by its body handler (413): let the
            // unread body drain, or a client still sending it never reads the answer.
            ctx.request().resume();
            if (ctx.response().ended() || ctx.response().headWritten()) {
              return;
            }
            json(ctx, status, Map.of("error", errorText(status)));
          });
    }
    return r;
  }

  private String errorText(int status) {
    return switch (status) {
      case 413 ->
          "request body too large: job requests take at most "
              + Schemas.MAX_REQUEST_BYTES
              + " bytes, blobs "
              + cfg.limits().maxBlobBytes()
              + " bytes; upload images as blobs";
      case 404 -> "not found";
      case 405 -> "method not allowed";
      case 400 -> "malformed request";
      case 401 -> "missing or unknown bearer token";
      case 415 -> "unsupported content";
      default -> "request failed (" + status + ")";
    };
  }

  /**
   * Headers on every answer: the page may load only its own scripts, never be framed, never be
   * sniffed.
   */
  private static void securityHeaders(RoutingContext ctx) {
    // 'self' covers the page's own WebSocket in current browsers; the explicit ws(s)://host covers
    // older ones.
    String host = ctx.request().getHeader("Host");
    String ws =
        host != null && HOST.matcher(host).matches() ? " ws://" + host + " wss://" + host : "";
    ctx.response()
        .putHeader(
            "Content-Security-Policy", CSP.replace("connect-src 'self'", "connect-src 'self'" + ws))
        .putHeader("X-Content-Type-Options", "nosniff")
        .putHeader("X-Frame-Options", "DENY")
        .putHeader("Referrer-Policy", "no-referrer")
        .putHeader("Cache-Control", "no-store");
    ctx.next();
  }

  private static final Pattern HOST =
      Pattern.compile("[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\\[[0-9A-Fa-f:.]{2,45}\\](:[0-9]{1,5})?");
  static final String CSP =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:;"
          + " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  /**
   * Token bucket per tenant for writes (POST, DELETE): {@code writeBurst} at once, then {@code
   * writesPerSecond}.
   */
  private void rateLimit(RoutingContext ctx) {
    HttpMethod m = ctx.request().method();
    if (!m.equals(HttpMethod.POST) && !m.equals(HttpMethod.DELETE)) {
      ctx.next();
      return;
    }
    GatewayConfig.Limits l = cfg.limits();
    // The bucket is in Redis (shared by all gateways): hold the body until the answer comes.
    ctx.request().pause();
    tenantLimits
        .tryWrite(tenant(ctx))
        .onComplete(
            ar -> {
              if (ar.failed()) {
                ctx.request().resume();
                json(ctx, 503, Map.of("error", "rate limiter unavailable (redis); retry later"));
              } else if (!ar.result()) {
                ctx.request().resume();
                ctx.response()
                    .putHeader(
                        "Retry-After", Long.toString((long) Math.ceil(1 / l.writesPerSecond())));
                json(
                    ctx,
                    429,
                    Map.of(
                        "error",
                        "rate limit: at most "
                            + l.writeBurst()
                            + " writes at once and "
                            + l.writesPerSecond()
                            + " per second per tenant; retry later"));
              } else {
                if (!takesBody(ctx)) {
                  ctx.request().resume();
                }
                ctx.next();
              }
            });
  }

  private void authenticate(RoutingContext ctx) {
    String header = ctx.request().getHeader("Authorization");
    String token =
        header != null && header.startsWith("Bearer ") ? header.substring(7).strip() : null;
    String tenant = token == null ? null : cfg.tokens().get(token);
    if (tenant == null) {
      json(
          ctx,
          401,
          Map.of("error", token == null ? "missing bearer token" : "unknown bearer token"));
      return;
    }
    ctx.put("tenant", tenant);
    ctx.next();
  }

  /** The routes that read a body (their BodyHandler resumes the paused request). */
  private static boolean takesBody(RoutingContext ctx) {
    String path = ctx.request().path();
    return ctx.request().method().equals(HttpMethod.POST)
        && (path.equals("/v1/jobs/generate")
            || path.equals("/v1/jobs/train")
            || path.equals("/v1/blobs"));
  }

  private static String tenant(RoutingContext ctx) {
    return ctx.get("tenant");
  }

  private void submit(RoutingContext ctx, String schema) {
    JsonNode body;
    try {
      body = Schemas.json().readTree(ctx.body().asString());
    } catch (IOException | RuntimeException e) {
      json(ctx, 400, new FieldError("", "malformed JSON"));
      return;
    }
    if (!(body instanceof ObjectNode obj)) {
      json(ctx, 400, new FieldError("", "the body must be a JSON object"));
      return;
    }
    String tenant = tenant(ctx);
    if (obj.has("tenant") && !tenant.equals(obj.get("tenant").asText())) {
      json(ctx, 403, new FieldError("/tenant", "does not match the bearer token's tenant"));
      return;
    }
    obj.put("tenant", tenant);
    if (!obj.has("jobId")) {
      obj.put(
          "jobId", (Schemas.TRAIN_REQUEST.equals(schema) ? "train-" : "gen-") + UUID.randomUUID());
    }
    RecordCodec.Outgoing request;
    FieldError over;
    try {
      request = RecordCodec.encode(schema, obj);
      over =
          Schemas.TRAIN_REQUEST.equals(schema)
              ? budgets.check(RecordCodec.map(obj, TrainRequest.class))
              : budgets.check(
                  RecordCodec.map(obj, GenerateRequestV1.class), cfg.limits().modelSize());
    } catch (InvalidEventException e) {
      json(ctx, 400, e.error());
      return;
    }
    if (over != null) {
      json(ctx, 400, over);
      return;
    }
    if (request.value().length > Schemas.MAX_REQUEST_BYTES) {
      json(
          ctx,
          413,
          new FieldError(
              "",
              "the request is "
                  + request.value().length
                  + " bytes, over the limit of "
                  + Schemas.MAX_REQUEST_BYTES
                  + "; upload images as blobs"));
      return;
    }
    // Job ids live in the tenant's own namespace: another tenant's id is simply free here.
    String jobId = request.key();
    String jobType = Schemas.TRAIN_REQUEST.equals(schema) ? "train" : "generate";
    // "queued" goes out before the request, so it is on the events topic before any worker event
    // (seq 0 is also below every worker's seq).
    JobEvent.Job job = new JobEvent.Job(jobId, tenant, jobType, "gateway");
    send(RecordCodec.encode(JobEvent.queued(job, 0)))
        .compose(v -> send(request))
        .onSuccess(v -> json(ctx, 202, Map.of("jobId", jobId)))
        .onFailure(
            e -> {
              send(
                  RecordCodec.encode(
                      JobEvent.failed(
                          job,
                          1,
                          JobEvent.Error.of(
                              "the gateway could not queue the job: " + e.getMessage()))));
              json(ctx, 503, Map.of("error", "could not queue the job: " + e.getMessage()));
            });
  }

  /** Sends a record to the topic of its schema, with the contract's key and headers. */
  private Future<Void> send(RecordCodec.Outgoing out) {
    KafkaProducerRecord<String, byte[]> rec =
        KafkaProducerRecord.create(cfg.topics().forSchema(out.schema()), out.key(), out.value());
    out.headers().forEach(rec::addHeader);
    return producer.send(rec).mapEmpty();
  }

  private JobView ownJob(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    if (id == null || !JOB_ID.matcher(id).matches()) {
      return null;
    }
    JobView v = jobs.get(TenantScope.of(tenant(ctx), id));
    return v != null && v.tenant.equals(tenant(ctx)) ? v : null;
  }

  private void status(RoutingContext ctx) {
    JobView v = ownJob(ctx);
    if (v == null) {
      notFound(ctx);
      return;
    }
    json(ctx, 200, v.snapshot());
  }

  private void image(RoutingContext ctx) {
    JobView v = ownJob(ctx);
    JobEvent latest = v == null ? null : v.latest();
    List<String> ids =
        latest == null || latest.result() == null || latest.result().imageBlobIds() == null
            ? List.of()
            : latest.result().imageBlobIds();
    int n;
    try {
      n = Integer.parseInt(ctx.pathParam("n"));
    } catch (NumberFormatException e) {
      n = -1;
    }
    if (n < 0 || n >= ids.size()) {
      notFound(ctx);
      return;
    }
    Future.fromCompletionStage(
            redis.async().get(blobKey(v.tenant, ids.get(n))), vertx.getOrCreateContext())
        .onComplete(
            ar -> {
              if (ar.failed() || ar.result() == null) {
                json(ctx, 404, Map.of("error", "image expired or unavailable"));
              } else {
                ctx.response()
                    .putHeader("content-type", "image/png")
                    .end(Buffer.buffer(ar.result()));
              }
            });
  }

  /**
   * Same answer whether the job is this tenant's, unknown, or another tenant's (whose job the
   * request, carrying this tenant, cannot touch).
   */
  private void cancel(RoutingContext ctx) {
    String jobId = ctx.pathParam("id");
    if (jobId == null || !JOB_ID.matcher(jobId).matches()) {
      notFound(ctx);
      return;
    }
    send(RecordCodec.encode(
            new CancelRequestV1(jobId, tenant(ctx), "cancelled through the gateway")))
        .onSuccess(x -> json(ctx, 202, Map.of("jobId", jobId, "cancel", "requested")))
        .onFailure(e -> json(ctx, 503, Map.of("error", e.getMessage())));
  }

  /**
   * Redis key of a tenant's blob (the worker writes results and reads uploads under the same key).
   */
  static String blobKey(String tenant, String blobId) {
    return "blob:" + TenantScope.of(tenant, blobId);
  }

  private void upload(RoutingContext ctx) {
    byte[] bytes = ctx.body().buffer() == null ? new byte[0] : ctx.body().buffer().getBytes();
    if (bytes.length == 0) {
      json(ctx, 400, new FieldError("", "empty body: send the image bytes"));
      return;
    }
    if (!isPngOrJpeg(bytes)) {
      json(
          ctx,
          415,
          new FieldError("", "the body is not a PNG or JPEG image; send the image file's bytes"));
      return;
    }
    String tenant = tenant(ctx);
    String id = tenant + "-" + UUID.randomUUID();
    long quota = cfg.limits().blobQuotaBytes();
    String quotaKey = "quota:blobs:" + tenant;
    // Bytes uploaded per blob lifetime: the counter starts with the first upload and expires with
    // the blob TTL.
    Future.fromCompletionStage(
            redis.async().incrby(quotaKey, bytes.length), vertx.getOrCreateContext())
        .compose(
            total -> {
              redis.async().expire(quotaKey, cfg.blobTtl().toSeconds(), ExpireArgs.Builder.nx());
              if (total > quota) {
                redis.async().decrby(quotaKey, bytes.length);
                json(
                    ctx,
                    429,
                    new FieldError(
                        "",
                        "blob quota of "
                            + quota
                            + " bytes per "
                            + cfg.blobTtl().toSeconds()
                            + " s reached; wait or use fewer, smaller images"));
                return Future.succeededFuture();
              }
              return Future.fromCompletionStage(
                      redis
                          .async()
                          .set(blobKey(tenant, id), bytes, SetArgs.Builder.ex(cfg.blobTtl())),
                      vertx.getOrCreateContext())
                  .onSuccess(
                      x ->
                          json(
                              ctx,
                              201,
                              Map.of(
                                  "blobId",
                                  id,
                                  "bytes",
                                  bytes.length,
                                  "ttlSeconds",
                                  cfg.blobTtl().toSeconds())));
            })
        .onFailure(e -> json(ctx, 503, Map.of("error", "blob store unavailable")));
  }

  private static boolean isPngOrJpeg(byte[] b) {
    boolean png =
        b.length > 8 && (b[0] & 0xff) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G';
    boolean jpeg =
        b.length > 3 && (b[0] & 0xff) == 0xff && (b[1] & 0xff) == 0xd8 && (b[2] & 0xff) == 0xff;
    return png || jpeg;
  }

  private Optional<ConceptRegistered> ownConcept(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    if (id == null || !JOB_ID.matcher(id).matches()) {
      return Optional.empty();
    }
    ConceptRegistered c = concepts.get(TenantScope.of(tenant(ctx), id));
    return c != null && c.tenant().equals(tenant(ctx)) ? Optional.of(c) : Optional.empty();
  }

  /** Deletes the registry entry (a tombstone; compaction removes the file). */
  private void deleteConcept(RoutingContext ctx) {
    if (ownConcept(ctx).isEmpty()) {
      notFound(ctx);
      return;
    }
    String key = TenantScope.of(tenant(ctx), ctx.pathParam("id"));
    producer
        .send(KafkaProducerRecord.create(cfg.topics().concepts(), key, (byte[]) null))
        .onSuccess(
            x -> {
              concepts.remove(key);
              ctx.response().setStatusCode(204).end();
            })
        .onFailure(e -> json(ctx, 503, Map.of("error", "could not delete the concept; retry")));
  }

  private static Map<String, Object> summary(ConceptRegistered c) {
    return Map.of(
        "conceptId",
        c.conceptId(),
        "placeholder",
        c.placeholder(),
        "superclass",
        c.superclass(),
        "baseModel",
        c.baseModel(),
        "defaultBeta",
        c.defaultBeta(),
        "defaultTau",
        c.defaultTau(),
        "createdAt",
        c.createdAt(),
        "fileBytes",
        Base64.getDecoder().decode(c.file()).length);
  }

  /**
   * Client messages: {@code {"subscribe":[{"jobId":"...","afterSeq":123}]}} and {@code
   * {"unsubscribe":["..."]}}; the token is the {@code token} query parameter. The server answers a
   * subscription to one of the tenant's own jobs with {@code {"type":"snapshot","data":...}} and
   * then sends {@code {"type":"event","data":<job event>}} in seq order, starting after afterSeq. A
   * job the tenant does not have (unknown, or another tenant's: the same thing here) gets nothing
   * until the tenant has a job of that id. Over a cap the answer is one {@code error} frame.
   */
  private void webSocket(RoutingContext ctx) {
    String origin = ctx.request().getHeader("Origin");
    if (origin != null && !originAllowed(origin, ctx.request().getHeader("Host"))) {
      json(ctx, 403, Map.of("error", "origin not allowed; set PERFUSION_ALLOWED_ORIGINS"));
      return;
    }
    String tenant = cfg.tokens().get(String.valueOf(ctx.request().getParam("token")));
    if (tenant == null) {
      json(ctx, 401, Map.of("error", "missing or unknown token"));
      return;
    }
    ctx.request()
        .toWebSocket()
        .onSuccess(
            ws -> {
              Subscriber me = new Subscriber(ws, tenant);
              Set<String> mine = ConcurrentHashMap.newKeySet();
              // One message after another per connection: a message's slots come from Redis
              // (asynchronously), and the next one must see them.
              List<Future<Void>> tail =
                  new java.util.ArrayList<>(List.of(Future.succeededFuture()));
              ws.textMessageHandler(
                  text -> tail.set(0, tail.get(0).transform(x -> onMessage(me, mine, text))));
              ws.closeHandler(
                  v ->
                      tail.get(0)
                          .onComplete(
                              x -> {
                                for (String key : mine) {
                                  subscribers.getOrDefault(key, Set.of()).remove(me);
                                }
                                tenantLimits.release(tenant, mine.size());
                                mine.clear();
                              }));
            });
  }

  /** One client message: unsubscriptions, then subscriptions within the caps. */
  private Future<Void> onMessage(Subscriber me, Set<String> mine, String text) {
    ServerWebSocket ws = me.ws();
    String tenant = me.tenant();
    GatewayConfig.Limits limits = cfg.limits();
    JsonNode msg;
    try {
      msg = Schemas.json().readTree(text);
    } catch (IOException e) {
      ws.writeTextMessage(frame("error", Map.of("error", "malformed message: send JSON")));
      return Future.succeededFuture();
    }
    if (msg == null) {
      return Future.succeededFuture();
    }
    int released = 0;
    for (JsonNode u : msg.path("unsubscribe")) {
      String key =
          u.isTextual() && JOB_ID.matcher(u.asText()).matches()
              ? TenantScope.of(tenant, u.asText())
              : null;
      if (key != null && mine.remove(key)) {
        subscribers.getOrDefault(key, Set.of()).remove(me);
        released++;
      }
    }
    tenantLimits.release(tenant, released);
    // Subscriptions in message order: already held ones (a snapshot again), then new ones, which
    // need a slot of the tenant's (all gateways together).
    List<String[]> wanted = new java.util.ArrayList<>(); // {jobId, afterSeq}
    Set<String> fresh = new java.util.LinkedHashSet<>();
    int seen = 0;
    for (JsonNode s : msg.path("subscribe")) {
      if (++seen > limits.subscriptionsPerConnection()) {
        // Bounded work per message: the rest is refused at once.
        ws.writeTextMessage(
            frame(
                "error",
                Map.of(
                    "error",
                    "subscriptions: at most "
                        + limits.subscriptionsPerConnection()
                        + " per connection"
                        + " (PERFUSION_WS_SUBSCRIPTIONS_PER_CONNECTION); the rest"
                        + " of this message was ignored")));
        break;
      }
      String jobId = s.path("jobId").asText("");
      if (!JOB_ID.matcher(jobId).matches()) {
        ws.writeTextMessage(
            frame(
                "error",
                Map.of(
                    "field",
                    "/subscribe/" + (seen - 1) + "/jobId",
                    "error",
                    "must match [A-Za-z0-9._-]{1,100}")));
        continue;
      }
      String key = TenantScope.of(tenant, jobId);
      if (!mine.contains(key) && !fresh.contains(key)) {
        if (mine.size() + fresh.size() >= limits.subscriptionsPerConnection()) {
          ws.writeTextMessage(
              frame(
                  "error",
                  Map.of(
                      "jobId",
                      jobId,
                      "error",
                      "subscriptions: at most "
                          + limits.subscriptionsPerConnection()
                          + " per connection"
                          + " (PERFUSION_WS_SUBSCRIPTIONS_PER_CONNECTION);"
                          + " unsubscribe from finished jobs first")));
          continue;
        }
        fresh.add(key);
      }
      wanted.add(new String[] {jobId, Long.toString(s.path("afterSeq").asLong(-1))});
    }
    if (wanted.isEmpty()) {
      return Future.succeededFuture();
    }
    return tenantLimits
        .acquire(tenant, fresh.size())
        .otherwise(-1) // Redis did not answer: no new slot
        .map(
            granted -> {
              if (granted < 0) {
                ws.writeTextMessage(
                    frame(
                        "error",
                        Map.of("error", "subscriptions unavailable (redis); retry later")));
              }
              int left = Math.max(0, granted);
              for (String[] w : wanted) {
                String key = TenantScope.of(tenant, w[0]);
                if (fresh.remove(key)) {
                  if (granted < 0) {
                    continue;
                  }
                  if (left == 0) {
                    ws.writeTextMessage(
                        frame(
                            "error",
                            Map.of(
                                "jobId",
                                w[0],
                                "error",
                                "subscriptions: at most "
                                    + limits.subscriptionsPerTenant()
                                    + " per tenant on all gateways"
                                    + " (PERFUSION_WS_SUBSCRIPTIONS_PER_TENANT);"
                                    + " unsubscribe from finished jobs or close connections"
                                    + " first")));
                    continue;
                  }
                  left--;
                  mine.add(key);
                  subscribers.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet()).add(me);
                } else if (!mine.contains(key)) {
                  continue; // refused above (a repeated id in one message)
                }
                JobView v = jobs.get(key);
                if (v != null && v.tenant.equals(tenant)) {
                  ws.writeTextMessage(frame("snapshot", v.snapshot()));
                  for (JobEvent e : v.after(Long.parseLong(w[1]))) {
                    ws.writeTextMessage(frame("event", e));
                  }
                }
              }
              return null;
            });
  }

  /**
   * A browser origin is allowed if configured, or, with none configured, if it is the gateway's own
   * ({@code http(s)://<Host>}).
   */
  private boolean originAllowed(String origin, String host) {
    List<String> allowed = cfg.limits().allowedOrigins();
    if (!allowed.isEmpty()) {
      return allowed.contains(origin);
    }
    return host != null && (origin.equals("http://" + host) || origin.equals("https://" + host));
  }

  private static String frame(String type, Object data) {
    ObjectNode n = Schemas.json().createObjectNode();
    n.put("type", type);
    n.set("data", Schemas.json().valueToTree(data));
    return n.toString();
  }

  private static void json(RoutingContext ctx, int status, Object body) {
    try {
      ctx.response()
          .setStatusCode(status)
          .putHeader("content-type", "application/json")
          .end(Schemas.json().writeValueAsString(body));
    } catch (JsonProcessingException e) {
      ctx.fail(e);
    }
  }

  static final Pattern JOB_ID = Pattern.compile("[A-Za-z0-9._-]{1,100}");
  static final Pattern TENANT = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private static void notFound(RoutingContext ctx) {
    json(ctx, 404, Map.of("error", "not found"));
  }

  /**
   * Ready when Redis answers a PING and the broker answers a cluster description, each within
   * {@link #PROBE_TIMEOUT_MS}: without either the gateway can neither take jobs nor show them, so a
   * load balancer should send clients elsewhere.
   */
  private Future<String> readiness() {
    Future<String> redisUp =
        Future.fromCompletionStage(redis.async().ping(), vertx.getOrCreateContext())
            .timeout(PROBE_TIMEOUT_MS, TimeUnit.MILLISECONDS)
            .map(pong -> "ready")
            .otherwise("not ready: redis unreachable");
    Future<String> kafkaUp =
        Future.fromCompletionStage(
                admin
                    .describeCluster(new DescribeClusterOptions().timeoutMs(PROBE_TIMEOUT_MS))
                    .clusterId()
                    .toCompletionStage(),
                vertx.getOrCreateContext())
            .timeout(PROBE_TIMEOUT_MS + 500, TimeUnit.MILLISECONDS)
            .map(id -> "ready")
            .otherwise("not ready: kafka unreachable");
    return Future.all(redisUp, kafkaUp)
        .map(both -> !"ready".equals(redisUp.result()) ? redisUp.result() : kafkaUp.result());
  }

  @Override
  public Future<?> stop() {
    Future<Void> limitsStopped =
        tenantLimits == null ? Future.succeededFuture() : tenantLimits.stop().otherwiseEmpty();
    return Future.join(
            eventsConsumer.close(), conceptsConsumer.close(), producer.close(), limitsStopped)
        .compose(
            v ->
                vertx.executeBlocking(
                    () -> {
                      admin.close(Duration.ofSeconds(2));
                      redis.close();
                      limitsRedis.close();
                      redisClient.shutdown();
                      return null;
                    }));
  }
}
