package org.perfusionjobs.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.lettuce.core.RedisClient;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.producer.KafkaProducer;
import io.vertx.kafka.client.producer.KafkaProducerRecord;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.FieldError;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.Schemas;

/**
 * HTTP and WebSocket face of the job system. REST: submit jobs (producing the same events an
 * upstream app would), job status, result images, cancel, blob upload, concepts per tenant.
 * WebSocket {@code /v1/ws}: subscribe to jobs, get the current snapshot at once and then every
 * event in order; a client that reconnects gives the last seq it saw and gets only what followed.
 * Every request carries a bearer token that names its tenant; a tenant sees only its own jobs,
 * images and concepts (others get 404). State comes from the events and registry topics (read
 * from the beginning), so any number of gateways can run side by side.
 */
public final class GatewayVerticle extends VerticleBase {
  private final GatewayConfig cfg;
  private final Map<String, JobView> jobs = new ConcurrentHashMap<>();
  private final Map<String, ConceptRegistered> concepts = new ConcurrentHashMap<>();
  private final Map<String, Set<ServerWebSocket>> subscribers = new ConcurrentHashMap<>();
  private KafkaProducer<String, byte[]> producer;
  private KafkaConsumer<String, byte[]> eventsConsumer;
  private KafkaConsumer<String, byte[]> conceptsConsumer;
  private RedisClient redisClient;
  private StatefulRedisConnection<String, byte[]> redis;
  private HttpServer server;

  public GatewayVerticle(GatewayConfig cfg) {
    this.cfg = cfg;
  }

  @Override
  public Future<?> start() {
    producer = KafkaProducer.create(vertx, Map.of("bootstrap.servers", cfg.bootstrapServers(),
        "key.serializer", "org.apache.kafka.common.serialization.StringSerializer",
        "value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer", "acks", "all", "linger.ms", "0"));
    eventsConsumer = consumer();
    eventsConsumer.handler(r -> onEvent(r.value()));
    conceptsConsumer = consumer();
    conceptsConsumer.handler(r -> {
      if (r.value() == null) {
        concepts.remove(r.key());
      } else {
        try {
          concepts.put(r.key(), Schemas.json().readValue(r.value(), ConceptRegistered.class));
        } catch (java.io.IOException ignored) {
          // written only by workers
        }
      }
    });
    return vertx.executeBlocking(() -> {
          redisClient = RedisClient.create(io.lettuce.core.RedisURI.builder(io.lettuce.core.RedisURI.create(cfg.redisUri())).withTimeout(Duration.ofSeconds(2)).build());
          redis = redisClient.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
          return null;
        })
        .compose(v -> eventsConsumer.subscribe(cfg.topics().events()))
        .compose(v -> conceptsConsumer.subscribe(cfg.topics().concepts()))
        .compose(v -> vertx.createHttpServer().requestHandler(router()).listen(cfg.httpPort(), "127.0.0.1"))
        .onSuccess(s -> server = s);
  }

  private KafkaConsumer<String, byte[]> consumer() {
    KafkaConsumer<String, byte[]> c = KafkaConsumer.create(vertx, Map.of("bootstrap.servers", cfg.bootstrapServers(),
        "group.id", "perfusion-gateway-" + UUID.randomUUID(), "auto.offset.reset", "earliest", "enable.auto.commit", "false",
        "key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer",
        "value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer"));
    c.pollTimeout(Duration.ofMillis(100));
    return c;
  }

  public int port() {
    return server.actualPort();
  }

  private void onEvent(byte[] value) {
    JobEvent e;
    try {
      e = Schemas.json().readValue(value, JobEvent.class);
    } catch (java.io.IOException ex) {
      return;
    }
    JobView view = jobs.computeIfAbsent(e.jobId(), id -> new JobView(id, e.tenant()));
    if (!view.tenant.equals(e.tenant()) || !view.add(e)) {
      return;
    }
    String json = frame("event", e);
    for (ServerWebSocket ws : subscribers.getOrDefault(e.jobId(), Set.of())) {
      ws.writeTextMessage(json);
    }
    if (!"progress".equals(e.kind())) {
      // Snapshot cache for other readers; the events topic stays the source of truth.
      redis.async().set("snapshot:" + e.jobId(), Schemas.json().valueToTree(view.snapshot()).toString().getBytes(StandardCharsets.UTF_8), SetArgs.Builder.ex(Duration.ofDays(7)));
    }
  }

  private Router router() {
    Router r = Router.router(vertx);
    r.get("/health/live").handler(ctx -> ctx.response().end("ok"));
    r.get("/health/ready").handler(ctx -> ctx.response().end("ready"));
    r.route("/v1/ws").handler(this::webSocket);
    r.route("/v1/*").handler(BodyHandler.create().setBodyLimit(16L * 1024 * 1024));
    r.route("/v1/*").handler(this::authenticate);
    r.post("/v1/jobs/generate").handler(ctx -> submit(ctx, Schemas.GENERATE_REQUEST, cfg.topics().generate()));
    r.post("/v1/jobs/train").handler(ctx -> submit(ctx, Schemas.TRAIN_REQUEST, cfg.topics().train()));
    r.get("/v1/jobs/:id").handler(this::status);
    r.get("/v1/jobs/:id/images/:n").handler(this::image);
    r.post("/v1/jobs/:id/cancel").handler(this::cancel);
    r.post("/v1/blobs").handler(this::upload);
    r.get("/v1/concepts").handler(ctx -> json(ctx, 200, concepts.values().stream().filter(c -> c.tenant().equals(tenant(ctx))).map(GatewayVerticle::summary).toList()));
    r.get("/v1/concepts/:id").handler(ctx -> ownConcept(ctx).ifPresentOrElse(c -> json(ctx, 200, summary(c)), () -> notFound(ctx)));
    r.delete("/v1/concepts/:id").handler(this::deleteConcept);
    r.route("/*").handler(StaticHandler.create("webroot"));
    return r;
  }

  private void authenticate(RoutingContext ctx) {
    String header = ctx.request().getHeader("Authorization");
    String token = header != null && header.startsWith("Bearer ") ? header.substring(7).strip() : null;
    String tenant = token == null ? null : cfg.tokens().get(token);
    if (tenant == null) {
      json(ctx, 401, Map.of("error", token == null ? "missing bearer token" : "unknown bearer token"));
      return;
    }
    ctx.put("tenant", tenant);
    ctx.next();
  }

  private static String tenant(RoutingContext ctx) {
    return ctx.get("tenant");
  }

  private void submit(RoutingContext ctx, String schema, String topic) {
    JsonNode body;
    try {
      body = Schemas.json().readTree(ctx.body().asString());
    } catch (java.io.IOException | RuntimeException e) {
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
      obj.put("jobId", (Schemas.TRAIN_REQUEST.equals(schema) ? "train-" : "gen-") + UUID.randomUUID());
    }
    List<FieldError> errors = Schemas.errors(schema, 1, obj);
    if (!errors.isEmpty()) {
      json(ctx, 400, errors.get(0));
      return;
    }
    String jobId = obj.get("jobId").asText();
    JobView existing = jobs.get(jobId);
    if (existing != null && !existing.tenant.equals(tenant)) {
      json(ctx, 409, new FieldError("/jobId", "is taken"));
      return;
    }
    String jobType = Schemas.TRAIN_REQUEST.equals(schema) ? "train" : "generate";
    // "queued" goes out before the request, so it is on the events topic before any worker event
    // (seq 0 is also below every worker's seq).
    send(cfg.topics().events(), jobId, stateEvent(jobId, tenant, jobType, 0, JobEvent.QUEUED, null), Schemas.JOB_EVENT)
        .compose(v -> send(topic, jobId, obj.toString().getBytes(StandardCharsets.UTF_8), schema))
        .onSuccess(v -> json(ctx, 202, Map.of("jobId", jobId)))
        .onFailure(e -> {
          send(cfg.topics().events(), jobId, stateEvent(jobId, tenant, jobType, 1, JobEvent.FAILED, "the gateway could not queue the job: " + e.getMessage()), Schemas.JOB_EVENT);
          json(ctx, 503, Map.of("error", "could not queue the job: " + e.getMessage()));
        });
  }

  private static byte[] stateEvent(String jobId, String tenant, String jobType, long seq, String state, String reason) {
    JobEvent e = new JobEvent(jobId, tenant, seq, "state", state, jobType, java.time.Instant.now().toString(), null, null, null, null, null,
        reason == null ? null : new JobEvent.Error(null, reason), null, "gateway");
    return Schemas.json().valueToTree(e).toString().getBytes(StandardCharsets.UTF_8);
  }

  private Future<Void> send(String topic, String key, byte[] value, String schema) {
    KafkaProducerRecord<String, byte[]> rec = KafkaProducerRecord.create(topic, key, value);
    rec.addHeader(Headers.SCHEMA, schema);
    rec.addHeader(Headers.VERSION, "1");
    return producer.send(rec).mapEmpty();
  }

  private JobView ownJob(RoutingContext ctx) {
    JobView v = jobs.get(ctx.pathParam("id"));
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
    List<String> ids = latest == null || latest.result() == null || latest.result().imageBlobIds() == null ? List.of() : latest.result().imageBlobIds();
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
    Future.fromCompletionStage(redis.async().get("blob:" + ids.get(n)), vertx.getOrCreateContext()).onComplete(ar -> {
      if (ar.failed() || ar.result() == null) {
        json(ctx, 404, Map.of("error", "image expired or unavailable"));
      } else {
        ctx.response().putHeader("content-type", "image/png").end(Buffer.buffer(ar.result()));
      }
    });
  }

  private void cancel(RoutingContext ctx) {
    JobView v = ownJob(ctx);
    String jobId = ctx.pathParam("id");
    if (v == null && jobs.containsKey(jobId)) {
      notFound(ctx);
      return;
    }
    ObjectNode body = Schemas.json().createObjectNode().put("jobId", jobId).put("tenant", tenant(ctx)).put("reason", "cancelled through the gateway");
    send(cfg.topics().cancel(), jobId, body.toString().getBytes(StandardCharsets.UTF_8), Schemas.CANCEL_REQUEST)
        .onSuccess(x -> json(ctx, 202, Map.of("jobId", jobId, "cancel", "requested")))
        .onFailure(e -> json(ctx, 503, Map.of("error", e.getMessage())));
  }

  private void upload(RoutingContext ctx) {
    byte[] bytes = ctx.body().buffer() == null ? new byte[0] : ctx.body().buffer().getBytes();
    if (bytes.length == 0) {
      json(ctx, 400, new FieldError("", "empty body: send the image bytes"));
      return;
    }
    String id = tenant(ctx) + "-" + UUID.randomUUID();
    Future.fromCompletionStage(redis.async().set("blob:" + id, bytes, SetArgs.Builder.ex(cfg.blobTtl())), vertx.getOrCreateContext())
        .onSuccess(x -> json(ctx, 201, Map.of("blobId", id, "bytes", bytes.length, "ttlSeconds", cfg.blobTtl().toSeconds())))
        .onFailure(e -> json(ctx, 503, Map.of("error", "blob store unavailable: " + e.getMessage())));
  }

  private java.util.Optional<ConceptRegistered> ownConcept(RoutingContext ctx) {
    ConceptRegistered c = concepts.get(ctx.pathParam("id"));
    return c != null && c.tenant().equals(tenant(ctx)) ? java.util.Optional.of(c) : java.util.Optional.empty();
  }

  private void deleteConcept(RoutingContext ctx) {
    if (ownConcept(ctx).isEmpty()) {
      notFound(ctx);
      return;
    }
    String id = ctx.pathParam("id");
    producer.send(KafkaProducerRecord.create(cfg.topics().concepts(), id, (byte[]) null)) // tombstone: compaction removes it
        .onSuccess(x -> {
          concepts.remove(id);
          ctx.response().setStatusCode(204).end();
        })
        .onFailure(e -> json(ctx, 503, Map.of("error", e.getMessage())));
  }

  private static Map<String, Object> summary(ConceptRegistered c) {
    return Map.of("conceptId", c.conceptId(), "placeholder", c.placeholder(), "superclass", c.superclass(), "baseModel", c.baseModel(),
        "defaultBeta", c.defaultBeta(), "defaultTau", c.defaultTau(), "createdAt", c.createdAt(), "fileBytes", java.util.Base64.getDecoder().decode(c.file()).length);
  }

  /**
   * Client messages: {@code {"subscribe":[{"jobId":"...","afterSeq":123}], "token":"..."}}. The
   * server answers each subscription with {@code {"type":"snapshot","data":...}} and then sends
   * {@code {"type":"event","data":<job event>}} in seq order, starting after afterSeq.
   */
  private void webSocket(RoutingContext ctx) {
    String tenant = cfg.tokens().get(String.valueOf(ctx.request().getParam("token")));
    if (tenant == null) {
      ctx.response().setStatusCode(401).end("missing or unknown token");
      return;
    }
    ctx.request().toWebSocket().onSuccess(ws -> {
      Set<String> mine = ConcurrentHashMap.newKeySet();
      ws.textMessageHandler(text -> {
        try {
          JsonNode msg = Schemas.json().readTree(text);
          for (JsonNode s : msg.path("subscribe")) {
            String jobId = s.path("jobId").asText();
            long after = s.path("afterSeq").asLong(-1);
            JobView v = jobs.get(jobId);
            if (v != null && !v.tenant.equals(tenant)) {
              ws.writeTextMessage(frame("error", Map.of("jobId", jobId, "error", "not found")));
              continue;
            }
            mine.add(jobId);
            subscribers.computeIfAbsent(jobId, k -> ConcurrentHashMap.newKeySet()).add(ws);
            if (v != null) {
              ws.writeTextMessage(frame("snapshot", v.snapshot()));
              for (JobEvent e : v.after(after)) {
                ws.writeTextMessage(frame("event", e));
              }
            }
          }
        } catch (java.io.IOException e) {
          ws.writeTextMessage(frame("error", Map.of("error", "malformed message")));
        }
      });
      ws.closeHandler(v -> mine.forEach(id -> subscribers.getOrDefault(id, Set.of()).remove(ws)));
    });
  }

  private static String frame(String type, Object data) {
    ObjectNode n = Schemas.json().createObjectNode();
    n.put("type", type);
    n.set("data", Schemas.json().valueToTree(data));
    return n.toString();
  }

  private static void json(RoutingContext ctx, int status, Object body) {
    try {
      ctx.response().setStatusCode(status).putHeader("content-type", "application/json").end(Schemas.json().writeValueAsString(body));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      ctx.fail(e);
    }
  }

  private static void notFound(RoutingContext ctx) {
    json(ctx, 404, Map.of("error", "not found"));
  }

  @Override
  public Future<?> stop() {
    return Future.join(eventsConsumer.close(), conceptsConsumer.close(), producer.close())
        .compose(v -> vertx.executeBlocking(() -> {
          redis.close();
          redisClient.shutdown();
          return null;
        }));
  }
}
