package org.perfusionjobs.worker;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.perfusionjobs.engine.perfusion.Covariance;
import org.perfusionjobs.engine.perfusion.CovarianceBuilder;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker: loads the model onto its model thread, starts the job-intake thread (share group),
 * the cancel and concept-registry consumers, and an HTTP server with {@code /health/live}, {@code
 * /health/ready} and {@code /metrics} (Prometheus). Model loading and Redis run off the event loop.
 */
public final class WorkerVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerVerticle.class);
  private final WorkerConfig cfg;
  private ModelRunner runner;
  private RedisStore redis;
  private JobClaims claims;

  /** Last Redis probe (every second, off the event loop): readiness reports an outage. */
  private volatile boolean redisReachable = true;

  /** Last broker probe (a cluster description within 2 s, every second): readiness reports it. */
  private volatile boolean brokerReachable = true;

  private Admin admin;
  private long brokerProbeTimer = -1;
  private int brokerMisses;

  private long probeTimer = -1;
  private EventPublisher publisher;
  private final ConceptCatalog catalog = new ConceptCatalog();
  private final CancelRegistry cancels = new CancelRegistry();
  private final ArchiveWatcher archived = new ArchiveWatcher();
  private final List<JobIntake> intakes = new ArrayList<>();
  private final List<Thread> intakeThreads = new ArrayList<>();
  private HttpServer http;
  private Metrics metrics;

  public WorkerVerticle(WorkerConfig cfg) {
    this.cfg = cfg;
  }

  @Override
  public Future<?> start() {
    return vertx
        .executeBlocking(
            () -> {
              StableDiffusionPipeline sd =
                  StableDiffusionPipeline.load(
                      cfg.modelDir(), EngineOptions.parse(cfg.precision(), cfg.device()));
              try {
                prepareCovariance(sd);
              } catch (Exception e) {
                sd.close();
                throw e;
              }
              runner = new ModelRunner(sd, "model-" + cfg.workerId(), cfg.batching());
              redis = new RedisStore(cfg.redisUri(), cfg.security().redis(), cfg.outageWait());
              // A claim's owner counts as alive this long after its last heartbeat (one every fifth
              // of it):
              // after a crash, its job is taken over within this time.
              claims =
                  new JobClaims(
                      cfg.redisUri(), cfg.security().redis(), claimTtl(cfg), cfg.outageWait());
              admin =
                  Admin.create(
                      cfg.kafka()
                          .objectConfig(
                              Map.of("request.timeout.ms", 2000, "default.api.timeout.ms", 2000)));
              return null;
            })
        .compose(
            v -> {
              publisher = new EventPublisher(vertx, cfg.kafka(), cfg.topics(), cfg.outageWait());
              metrics =
                  new Metrics(runner::utilisation, runner::batchUnetCalls, runner::batchedRequests);
              return catalog.start(vertx, cfg.kafka(), cfg.topics().concepts());
            })
        .compose(v -> cancels.start(vertx, cfg.kafka(), cfg.topics().cancel(), redis))
        .compose(v -> archived.start(vertx, cfg, claims, publisher))
        .compose(
            v -> {
              Router router = Router.router(vertx);
              router.get("/health/live").handler(ctx -> ctx.response().end("ok"));
              router
                  .get("/health/ready")
                  .handler(
                      ctx -> {
                        boolean intakesUp =
                            !intakes.isEmpty()
                                && intakes.stream().allMatch(JobIntake::alive)
                                && intakeThreads.stream().allMatch(Thread::isAlive);
                        // Not ready while Redis or the broker is away: running jobs wait for it (up
                        // to the outage limit) and no new job starts.
                        boolean ready = intakesUp && redisReachable && brokerReachable;
                        String why =
                            !redisReachable
                                ? "not ready: redis unreachable"
                                : !brokerReachable
                                    ? "not ready: kafka unreachable"
                                    : !intakesUp ? "not ready: job intake not consuming" : "ready";
                        why +=
                            "; intake restarts "
                                + intakes.stream().mapToInt(JobIntake::restarts).sum();
                        ctx.response().setStatusCode(ready ? 200 : 503).end(why);
                      });
              probeTimer =
                  vertx.setPeriodic(
                      1000,
                      id ->
                          vertx
                              .executeBlocking(() -> claims.reachable(), false)
                              .onSuccess(
                                  up -> {
                                    if (up != redisReachable) {
                                      LOG.warn(
                                          "redis {}",
                                          up
                                              ? "reachable again"
                                              : "unreachable: jobs wait, readiness reports 503");
                                    }
                                    redisReachable = up;
                                  }));
              // Two failed probes in a row (a busy machine can miss one 2 s answer) before the
              // broker counts as away.
              brokerProbeTimer =
                  vertx.setPeriodic(
                      1000,
                      id ->
                          vertx
                              .executeBlocking(this::brokerAnswers, false)
                              .onSuccess(this::brokerProbed));
              router
                  .get("/metrics")
                  .handler(
                      ctx ->
                          ctx.response()
                              .putHeader("content-type", "text/plain; version=0.0.4")
                              .end(metrics.scrape()));
              return vertx
                  .createHttpServer()
                  .requestHandler(router)
                  .listen(cfg.httpPort(), "127.0.0.1");
            })
        .onSuccess(
            server -> {
              http = server;
              for (String topic : cfg.topics().jobTopics()) {
                // One record per intake: as many generation intakes as the batch has slots, one for
                // training.
                int slots = topic.equals(cfg.topics().train()) ? 1 : cfg.batching().maxImages();
                for (int slot = 0; slot < slots; slot++) {
                  JobIntake intake =
                      new JobIntake(
                          cfg, topic, slot, runner, redis, claims, publisher, catalog, cancels,
                          metrics);
                  Thread t =
                      new Thread(
                          intake,
                          "intake-"
                              + JobIntake.kind(cfg, topic)
                              + "-"
                              + slot
                              + "-"
                              + cfg.workerId());
                  intakes.add(intake);
                  intakeThreads.add(t);
                  t.start();
                }
              }
              LOG.info(
                  "worker {} ready; health and metrics on http://127.0.0.1:{}",
                  cfg.workerId(),
                  server.actualPort());
            });
  }

  private boolean brokerAnswers() {
    try {
      admin
          .describeCluster(new DescribeClusterOptions().timeoutMs(2000))
          .clusterId()
          .get(2500, TimeUnit.MILLISECONDS);
      return true;
    } catch (Exception e) { // NOPMD: any failure means the broker did not answer in time
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      return false;
    }
  }

  private void brokerProbed(boolean answered) {
    brokerMisses = answered ? 0 : brokerMisses + 1;
    boolean up = brokerMisses < 2;
    if (up != brokerReachable) {
      LOG.warn(
          "kafka {}",
          up
              ? "reachable again"
              : "unreachable: events wait in the producer, readiness reports 503");
    }
    brokerReachable = up;
  }

  /**
   * How long a claim outlives its owner's last heartbeat: 10 s, or three renewal intervals if
   * longer.
   */
  static Duration claimTtl(WorkerConfig cfg) {
    return Duration.ofMillis(Math.max(10_000, cfg.renewInterval().toMillis() * 3));
  }

  private void prepareCovariance(StableDiffusionPipeline sd) throws Exception {
    if (cfg.covariance() != null) {
      PerfusionModel.of(sd).setCovariance(Covariance.load(cfg.covariance()));
    } else if (!Files.isRegularFile(cfg.modelDir().resolve(Covariance.FILE_NAME))
        && cfg.captions() != null) {
      PerfusionModel.of(sd)
          .setCovariance(
              CovarianceBuilder.compute(
                  sd,
                  CovarianceBuilder.readCaptions(cfg.captions()),
                  false,
                  cfg.captions().getFileName().toString(),
                  n -> {}));
    }
  }

  /** Port of the health/metrics server. */
  public int httpPort() {
    return http.actualPort();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(probeTimer);
    vertx.cancelTimer(brokerProbeTimer);
    intakes.forEach(JobIntake::stop);
    return vertx
        .executeBlocking(
            () -> {
              for (Thread t : intakeThreads) {
                t.join(30_000);
              }
              return null;
            })
        .compose(
            v ->
                Future.join(
                    catalog.close(),
                    cancels.close(),
                    archived.close(),
                    publisher == null ? Future.succeededFuture() : publisher.close()))
        .compose(
            v ->
                vertx.executeBlocking(
                    () -> {
                      if (runner != null) {
                        runner.close();
                      }
                      if (redis != null) {
                        redis.close();
                      }
                      if (claims != null) {
                        claims.close();
                      }
                      if (admin != null) {
                        admin.close(Duration.ofSeconds(2));
                      }
                      return null;
                    }));
  }
}
