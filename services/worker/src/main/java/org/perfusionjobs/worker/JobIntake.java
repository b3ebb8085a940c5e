package org.perfusionjobs.worker;

import com.fasterxml.jackson.databind.JsonNode;
import io.lettuce.core.RedisException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.FieldError;
import org.perfusionjobs.contracts.GenerateRequestV1;
import org.perfusionjobs.contracts.InvalidEventException;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.TrainRequest;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.SuperclassLayout;
import org.perfusionjobs.engine.perfusion.TrainingImages;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerationCancelledException;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The job-intake thread: the only user of its share consumer (it is not thread-safe). It takes one
 * record at a time (record_limit mode, explicit acknowledgement) and runs it through named steps:
 *
 * <ol>
 *   <li><b>validate</b> ({@link RequestCheck}): any record becomes a valid request or a rejection
 *       naming the field, its tenant and job;
 *   <li><b>claim</b> ({@link JobClaims}): one atomic claim per (tenant, job id), so a job runs at
 *       most once; a finished job's outcome is republished instead;
 *   <li><b>dispatch</b>: the work goes to the model thread;
 *   <li><b>renew</b> ({@link RecordLock}): while the job runs, the record lock is renewed, and the
 *       claim kept alive by its heartbeat; losing the claim stops the job, losing the lock does not
 *       (the record's next holder waits for the outcome instead, see {@link JobClaims});
 *   <li><b>settle</b>: the outcome is stored, published, and the record acknowledged (ACCEPT; a
 *       rejected record is dead-lettered by the worker and then accepted, so it lands in exactly
 *       one dead-letter topic). An infrastructure error fails nothing: Redis and the broker are
 *       waited for (up to the outage limit, {@code PERFUSION_OUTAGE_WAIT_MS}), and past it the
 *       record is released and runs again later.
 * </ol>
 *
 * Blocking side work (Redis, publishing) runs on a helper thread while this thread keeps the lock.
 * {@link #run()} supervises the loop: if it ever dies, a new consumer starts after a backoff.
 */
final class JobIntake implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(JobIntake.class);
  private final WorkerConfig cfg;
  private final ModelRunner runner;
  private final RedisStore redis;
  private final JobClaims claims;
  private final EventPublisher publisher;
  private final ConceptCatalog catalog;
  private final CancelRegistry cancels;
  private final Metrics metrics;
  private final JobExecutor executor;
  private final ImageFetcher images;
  private final String topic;
  private final boolean train;
  private final int slot;
  private final ExecutorService helper;
  private final AtomicInteger restarts = new AtomicInteger();
  private volatile boolean running = true;
  private volatile boolean consuming;
  private volatile KafkaShareConsumer<byte[], byte[]> consumer;

  /**
   * @param topic the one job topic this intake consumes, in its own share group ({@code
   *     <group>-<topic kind>}): a share group assigns partitions to members, and only a topic with
   *     fewer partitions than members (one partition) is shared by every worker; two topics in one
   *     group were split between two workers, which let a job wait behind a busy worker while the
   *     other idled
   * @param slot which of this worker's intakes of {@code topic} this is: each holds at most one
   *     record, so a worker holds as many generation records as its batch has slots ({@code
   *     PERFUSION_MAX_BATCH}) and one training record (docs/decisions.md 26)
   */
  JobIntake(
      WorkerConfig cfg,
      String topic,
      int slot,
      ModelRunner runner,
      RedisStore redis,
      JobClaims claims,
      EventPublisher publisher,
      ConceptCatalog catalog,
      CancelRegistry cancels,
      Metrics metrics) {
    this.topic = topic;
    this.train = topic.equals(cfg.topics().train());
    this.slot = slot;
    this.cfg = cfg;
    this.runner = runner;
    this.redis = redis;
    this.claims = claims;
    this.publisher = publisher;
    this.catalog = catalog;
    this.cancels = cancels;
    this.metrics = metrics;
    this.executor = new JobExecutor(cfg, redis, publisher, metrics);
    this.images = new ImageFetcher(redis, cfg);
    this.helper =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t =
                  new Thread(
                      r, "intake-helper-" + kind(cfg, topic) + "-" + slot + "-" + cfg.workerId());
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Supervises the consume loop: whatever kills it (a bug, an Error), a fresh consumer takes over
   * after a backoff.
   */
  @Override
  public void run() {
    long backoff = 500;
    while (running) {
      long started = System.nanoTime();
      try {
        consume();
      } catch (WakeupException e) {
        // stop() woke the consumer: the loop ends; unacknowledged records return to the queue.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (
          Throwable t) { // NOPMD: the thread must outlive anything a record or a client does to it
        consuming = false;
        if (System.nanoTime() - started > 60_000_000_000L) {
          backoff = 500; // it had been healthy for a while: this is a new failure, not a crash loop
        }
        int n = restarts.incrementAndGet();
        LOG.error("job intake for {} died (restart {}); restarting in {} ms", topic, n, backoff, t);
        try {
          Thread.sleep(backoff);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          break;
        }
        backoff = Math.min(10_000, backoff * 2);
      }
    }
    consuming = false;
    helper.shutdownNow();
  }

  private void consume() throws InterruptedException {
    Properties p = cfg.kafka().properties(Map.of());
    p.put("group.id", groupId(cfg, topic));
    p.put("client.id", cfg.workerId() + "-" + kind(cfg, topic) + "-" + slot);
    // While a long job's renewals are its only calls, the consumer must not be evicted.
    p.put("max.poll.interval.ms", "3600000");
    p.put("share.acknowledgement.mode", "explicit");
    p.put("share.acquire.mode", "record_limit");
    p.put("max.poll.records", "1");
    // Keys and values stay bytes: a deserializer that throws inside poll() would make a record
    // unreadable forever.
    try (KafkaShareConsumer<byte[], byte[]> c =
        new KafkaShareConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer = c;
      c.subscribe(List.of(topic));
      consuming = true;
      boolean afterLongJob = false;
      while (running) {
        // Right after a long job, a zero poll returns only what was already in the client buffer.
        Duration wait = afterLongJob ? Duration.ZERO : Duration.ofMillis(200);
        boolean buffered = afterLongJob;
        afterLongJob = false;
        for (ConsumerRecord<byte[], byte[]> r : c.poll(wait)) {
          RecordLock lock = new RecordLock(c, r, cfg.renewInterval());
          crashIfAsked(r);
          if (buffered && HeldBackRecords.release(lock.deliveryCount())) {
            // A fetch overlapping the last job's acquired this record while the job ran: the
            // renewals only ever return the job's own record, so it sat unseen and locked while an
            // idle worker could have run it (TwoWorkersTest). Released and the consumer closed: a
            // release alone went straight back to this consumer's own pending fetch
            // (HeldBackRecordsTest); leaving the group hands it to a member that is fetching now.
            LOG.info(
                "record {} (delivery {}) waited in this worker's buffer while it was busy;"
                    + " released to the next free worker",
                lock.id(),
                lock.deliveryCount());
            c.acknowledge(r, AcknowledgeType.RELEASE);
            return;
          }
          // A record can reach us as a stale copy: a fetch that overlapped the one that brought the
          // last job acquired it too, and it waited unseen in the client buffer while its lock ran
          // out and the broker handed it to another worker (seen with two workers: both ran it).
          // Renewing confirms the lock is still ours before anything runs.
          if (lock.renew()) {
            long started = System.nanoTime();
            handle(lock);
            // Only after a job that ended (ACCEPT): a record released for an outage may come
            // straight back here, and moving it again would spend a delivery for nothing.
            afterLongJob =
                lock.settled() == AcknowledgeType.ACCEPT
                    && System.nanoTime() - started > HeldBackRecords.LONG_JOB_NANOS;
            if (!lock.held()) {
              // The lock was lost while the record was in hand (the broker restarted, or refused a
              // renewal): a fresh consumer starts without that record's leftovers.
              LOG.info(
                  "record {}: lock lost while it was handled; reconnecting the intake's consumer",
                  lock.id());
              return;
            }
          } else {
            LOG.info(
                "record {} (delivery {}) is a stale copy whose lock is gone; not run here",
                lock.id(),
                lock.deliveryCount());
          }
        }
      }
    } finally {
      consumer = null;
      consuming = false;
    }
  }

  /**
   * Test hook: a record whose key equals the system property {@code
   * perfusion.worker.testCrashOnKey} kills the consume loop with an Error, as a bug or a native
   * crash in a client would, so tests can watch the supervisor restart it and the broker archive a
   * record that crashes every worker.
   */
  private static void crashIfAsked(ConsumerRecord<byte[], byte[]> r) {
    String key = System.getProperty("perfusion.worker.testCrashOnKey");
    if (key != null
        && r.key() != null
        && Arrays.equals(r.key(), key.getBytes(StandardCharsets.UTF_8))) {
      throw new Error("test hook: intake crash on record key " + key);
    }
  }

  static String kind(WorkerConfig cfg, String topic) {
    return topic.equals(cfg.topics().train()) ? "train" : "generate";
  }

  /** The share group of one job topic. */
  static String groupId(WorkerConfig cfg, String topic) {
    return cfg.groupId() + "-" + kind(cfg, topic);
  }

  void stop() {
    running = false;
    KafkaShareConsumer<byte[], byte[]> c = consumer;
    if (c != null) {
      c.wakeup();
    }
  }

  /** Whether the intake is consuming now (false while it starts or restarts after a failure). */
  boolean alive() {
    return running && consuming;
  }

  int restarts() {
    return restarts.get();
  }

  /** One record through validate, claim, dispatch, renew and settle. */
  private void handle(RecordLock lock) throws InterruptedException {
    try {
      RequestCheck.Outcome checked = RequestCheck.check(lock.record(), train);
      if (checked instanceof RequestCheck.Rejected rejected) {
        reject(lock, rejected);
        return;
      }
      RequestCheck.Valid request = (RequestCheck.Valid) checked;
      String token =
          lock.id() + "@" + cfg.workerId() + "#" + lock.deliveryCount() + "#" + System.nanoTime();
      boolean waited = false;
      while (true) {
        JobClaims.Claim c =
            lock.whileRenewing(
                helper,
                () ->
                    claims.claim(
                        request.tenant(),
                        request.jobId(),
                        lock.id(),
                        token,
                        lock.deliveryCount() - 1,
                        lock::held));
        if (c instanceof JobClaims.InFlight inFlight) {
          // Its owner lost this record's lock (a broker restart, say) but runs the job, or
          // publishes its
          // outcome, still: hold the record until the outcome is out (then accept it) or the
          // owner's
          // heartbeat stops (then the claim is ours and the job runs here).
          if (!waited) {
            LOG.info(
                "job {}/{}: record {} is still being run by {} (it lost the record's lock); holding"
                    + " the record until it finishes",
                request.tenant(),
                request.jobId(),
                lock.id(),
                inFlight.owner());
            waited = true;
          }
          if (!lock.sleepRenewing(cfg.renewInterval())) {
            return; // the record went on to another holder, who waits in our place
          }
          continue;
        }
        if (c instanceof JobClaims.Done done) {
          replay(lock, request, done);
        } else if (c instanceof JobClaims.AlreadyPublished) {
          LOG.info(
              "job {}/{}: record {} was finished and published by an earlier delivery",
              request.tenant(),
              request.jobId(),
              lock.id());
          lock.settle(AcknowledgeType.ACCEPT);
        } else if (c instanceof JobClaims.Busy busy) {
          LOG.info(
              "job {}/{} is being run by {}; record {} is a duplicate and is dropped",
              request.tenant(),
              request.jobId(),
              busy.owner(),
              lock.id());
          lock.settle(AcknowledgeType.ACCEPT);
        } else {
          runClaimed(lock, request, (JobClaims.Claimed) c);
        }
        return;
      }
    } catch (ExecutionException e) {
      infrastructureError(lock, e.getCause());
    }
  }

  /**
   * A record that can never run: one failed event (to its tenant, or {@code unknown}), one dead
   * letter, accepted. A delivery of a record that an earlier delivery already dead-lettered (its
   * acknowledgement got lost) is only accepted.
   */
  private void reject(RecordLock lock, RequestCheck.Rejected rejected)
      throws ExecutionException, InterruptedException {
    boolean already =
        lock.whileRenewing(
            helper,
            () -> {
              if (claims.wasRejected(rejected.tenant(), rejected.jobId(), lock.id(), lock::held)) {
                return true;
              }
              long epoch =
                  claims.nextEpoch(
                      rejected.tenant(), rejected.jobId(), lock.deliveryCount() - 1, lock::held);
              reporter(rejected.jobId(), rejected.tenant(), rejected.jobType(), epoch)
                  .failed(rejected.error());
              publisher.deadLetter(lock.record(), rejected.error());
              claims.markRejected(rejected.tenant(), rejected.jobId(), lock.id(), () -> true);
              return false;
            });
    if (already) {
      LOG.info("record {} was dead-lettered by an earlier delivery; accepted", lock.id());
    } else {
      metrics.job(rejected.jobType(), JobEvent.FAILED);
    }
    lock.settle(AcknowledgeType.ACCEPT);
  }

  /**
   * The job finished before: republish its outcome above every seq it had, or nothing if this very
   * record already did.
   */
  private void replay(RecordLock lock, RequestCheck.Valid request, JobClaims.Done done)
      throws ExecutionException, InterruptedException {
    JobEvent stored;
    try {
      stored = RecordCodec.read(done.eventJson().getBytes(StandardCharsets.UTF_8), JobEvent.class);
    } catch (IOException e) {
      throw new IllegalStateException(
          "stored outcome of job " + request.jobId() + " is unreadable", e);
    }
    lock.whileRenewing(
        helper,
        () ->
            reporter(request.jobId(), request.tenant(), request.jobType(), done.epoch())
                .replay(stored));
    lock.settle(AcknowledgeType.ACCEPT);
  }

  /**
   * Runs a job this delivery claimed. From here on the claim decides: the job runs to its end on
   * this worker while the claim's heartbeat holds, whether or not the record's lock survives (a
   * lost lock only means the record's next holder waits for this outcome and acknowledges the
   * record).
   */
  private void runClaimed(RecordLock lock, RequestCheck.Valid request, JobClaims.Claimed claimed)
      throws InterruptedException {
    String jobId = request.jobId();
    String tenant = request.tenant();
    try (JobClaims.Hold hold = claims.hold(claimed)) {
      JobReporter rep = reporter(jobId, tenant, request.jobType(), claimed.epoch());
      try {
        if (cancels.isCancelled(tenant, jobId, redis)) {
          settleEnded(
              lock,
              claimed,
              () -> rep.cancelled(cancelReason(tenant, jobId, null)),
              request.jobType());
          return;
        }
        metrics.queueWait(
            Math.max(0, System.currentTimeMillis() - lock.record().timestamp()) / 1000.0);
        lock.whileRenewing(helper, () -> rep.running());
      } catch (ExecutionException e) {
        infrastructureError(lock, e.getCause(), claimed);
        return;
      }
      AtomicBoolean stop = new AtomicBoolean();
      long started = System.nanoTime();
      CompletableFuture<JobEvent.Result> work =
          dispatch(
              request,
              rep,
              () -> stop.get() || hold.lost() || cancels.isCancelledLocally(tenant, jobId));
      Outcome outcome = renewWhileRunning(lock, hold, work, stop);
      metrics.runTime((System.nanoTime() - started) / 1e9);
      settle(lock, request, hold, rep, outcome);
    }
  }

  /**
   * The dispatch step: resolving inputs and running the job both happen on the model thread, so the
   * intake keeps renewing.
   */
  private CompletableFuture<JobEvent.Result> dispatch(
      RequestCheck.Valid request, JobReporter rep, BooleanSupplier cancelled) {
    if (train) {
      return runner.submit(
          sd ->
              call(
                  () -> {
                    TrainRequest req = map(request.node(), TrainRequest.class);
                    return executor.train(
                        sd, req, resolveImages(req), rep, cancelled, runner::yieldToBatch);
                  }));
    }
    // Preparing and storing run on the helper; only the denoising runs on the model, in the batch.
    StableDiffusionPipeline sd = runner.pipeline();
    return CompletableFuture.supplyAsync(
            () ->
                call(
                    () -> {
                      GenerateRequestV1 req = map(request.node(), GenerateRequestV1.class);
                      return new PreparedGeneration(
                          req,
                          executor.prepareGenerate(sd, req, resolveConcepts(req), rep, cancelled));
                    }),
            helper)
        .thenCompose(
            p ->
                runner
                    .generate(p.request())
                    .handleAsync(
                        (result, error) ->
                            call(() -> executor.storeGenerated(p.job(), result, error, cancelled)),
                        helper));
  }

  private record PreparedGeneration(GenerateRequestV1 job, GenerateRequest request) {}

  private static <T> T map(JsonNode node, Class<T> type) throws JobFailure {
    try {
      return RecordCodec.map(node, type);
    } catch (InvalidEventException e) {
      throw new JobFailure(e.error().field(), e.error().reason());
    }
  }

  /** How a run ended; {@code claimLost}: stopped because another delivery took the job's claim. */
  private record Outcome(JobEvent.Result result, Throwable error, boolean claimLost) {}

  /**
   * The renew step: waits for the job, renewing the record lock every interval (the claim has its
   * own heartbeat). A lost lock is logged and the job goes on; a lost claim (another delivery owns
   * the job now) tells the job to stop, and the wait goes on until the model thread lets go.
   */
  private Outcome renewWhileRunning(
      RecordLock lock,
      JobClaims.Hold hold,
      CompletableFuture<JobEvent.Result> work,
      AtomicBoolean stop)
      throws InterruptedException {
    String jobId = hold.claimed().owner().jobId();
    while (true) {
      try {
        return new Outcome(
            work.get(cfg.renewInterval().toMillis(), TimeUnit.MILLISECONDS), null, stop.get());
      } catch (TimeoutException stillRunning) {
        if (stop.get()) {
          continue; // the job stops at its next step
        }
        if (lock.held() && !lock.renew()) {
          LOG.warn(
              "job {}: record lock lost; the job goes on under its claim, and the record's next"
                  + " holder waits for its outcome",
              jobId);
        }
        if (hold.lost()) {
          LOG.warn("job {}: claim taken by another delivery; stopping it", jobId);
          stop.set(true);
        }
      } catch (ExecutionException e) {
        Throwable cause =
            e.getCause() instanceof CompletionException ? e.getCause().getCause() : e.getCause();
        return new Outcome(null, cause instanceof WrappedFailure w ? w.failure : cause, stop.get());
      }
    }
  }

  /** The settle step. */
  private void settle(
      RecordLock lock,
      RequestCheck.Valid request,
      JobClaims.Hold hold,
      JobReporter rep,
      Outcome outcome)
      throws InterruptedException {
    String jobId = request.jobId();
    JobClaims.Claimed claimed = hold.claimed();
    try {
      if (outcome.result() != null) {
        // Stored before it is published: a crash in between makes the redelivery publish the stored
        // outcome.
        boolean published =
            lock.whileRenewing(
                helper,
                () -> {
                  JobEvent event = rep.prepareResult(outcome.result());
                  if (!claims.done(
                      claimed, RecordCodec.encode(event).valueText(), () -> !hold.lost())) {
                    LOG.warn(
                        "job {}: finished, but another delivery owns it now; its result is not"
                            + " published from here",
                        jobId);
                    return false;
                  }
                  rep.publish(event);
                  claims.published(claimed, () -> true);
                  return true;
                });
        if (published) {
          metrics.job(request.jobType(), JobEvent.SUCCEEDED);
        }
        lock.settle(AcknowledgeType.ACCEPT);
        return;
      }
      Throwable error = outcome.error();
      if (outcome.claimLost()) {
        // Another delivery owns the job now: publish nothing. If this record is still ours, the job
        // runs from another record: this one is a duplicate.
        LOG.warn(
            "job {}: stopped after losing its claim ({}); left to the claim's owner",
            jobId,
            String.valueOf(error));
        if (lock.held()) {
          lock.settle(AcknowledgeType.ACCEPT);
        }
        return;
      }
      if (error instanceof GenerationCancelledException c) {
        settleEnded(
            lock,
            claimed,
            () -> rep.cancelled(cancelReason(request.tenant(), jobId, c.completedSteps())),
            request.jobType());
      } else if (error instanceof JobFailure f) {
        settleFailed(lock, claimed, rep, f.error(), request.jobType());
      } else if (isInfrastructure(error)) {
        infrastructureError(lock, error, claimed);
      } else {
        LOG.error("job {} failed", jobId, error);
        settleFailed(
            lock, claimed, rep, new FieldError("", "internal error: " + error), request.jobType());
      }
    } catch (ExecutionException e) {
      // Redis or the broker outlasted the outage limit while settling. A result stored as done is
      // replayed by the record's next delivery; anything else runs again.
      infrastructureError(lock, e.getCause());
    }
  }

  private void settleEnded(
      RecordLock lock, JobClaims.Claimed claimed, Callable<JobEvent> publish, String jobType)
      throws ExecutionException, InterruptedException {
    JobEvent sent =
        lock.whileRenewing(
            helper,
            () -> {
              claims.end(claimed, () -> true);
              return publish.call();
            });
    metrics.job(jobType, sent.state());
    lock.settle(AcknowledgeType.ACCEPT);
  }

  private void settleFailed(
      RecordLock lock, JobClaims.Claimed claimed, JobReporter rep, FieldError error, String jobType)
      throws ExecutionException, InterruptedException {
    lock.whileRenewing(
        helper,
        () -> {
          claims.end(claimed, () -> true);
          rep.failed(error);
          publisher.deadLetter(lock.record(), error);
          return true;
        });
    metrics.job(jobType, JobEvent.FAILED);
    lock.settle(AcknowledgeType.ACCEPT);
  }

  private void infrastructureError(RecordLock lock, Throwable error) {
    infrastructureError(lock, error, null);
  }

  /**
   * Redis or Kafka failed for longer than the side work waits (the outage limit): nothing is
   * failed. The claim is given back and the record released, so the job runs again (on any worker)
   * once the outage is over.
   */
  private void infrastructureError(RecordLock lock, Throwable error, JobClaims.Claimed claimed) {
    LOG.warn(
        "record {}: infrastructure error, released to run again later: {}",
        lock.id(),
        String.valueOf(error));
    if (claimed != null) {
      helper.submit(() -> claims.release(claimed, () -> false));
    }
    lock.settle(AcknowledgeType.RELEASE);
  }

  static boolean isInfrastructure(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof RedisException
          || c instanceof KafkaException
          || c instanceof TimeoutException
          || c instanceof ConnectException) {
        return true;
      }
    }
    return false;
  }

  private String cancelReason(String tenant, String jobId, Integer steps) {
    String reason = cancels.reason(tenant, jobId);
    if (reason != null) {
      return reason;
    }
    return steps == null ? "cancelled before it started" : "cancelled after " + steps + " steps";
  }

  private JobReporter reporter(String jobId, String tenant, String jobType, long epoch) {
    return new JobReporter(
        publisher, jobId, tenant, jobType, cfg.workerId(), epoch, cfg.progressInterval());
  }

  private TrainingImages resolveImages(TrainRequest req) throws JobFailure {
    if (!req.captions().isEmpty() && req.captions().size() != req.images().size()) {
      throw new JobFailure( // before any image is fetched
          "/captions",
          req.captions().size()
              + " captions for "
              + req.images().size()
              + " images; give one per image, in the same order");
    }
    List<BufferedImage> imgs = new ArrayList<>();
    for (int i = 0; i < req.images().size(); i++) {
      imgs.add(images.fetch(req.tenant(), req.images().get(i), "/images/" + i));
    }
    List<BufferedImage> masks = null;
    if (!req.masks().isEmpty()) {
      if (req.masks().size() != req.images().size()) {
        throw new JobFailure(
            "/masks", req.masks().size() + " masks for " + req.images().size() + " images");
      }
      masks = new ArrayList<>();
      for (int i = 0; i < req.masks().size(); i++) {
        masks.add(images.fetch(req.tenant(), req.masks().get(i), "/masks/" + i));
      }
    }
    if (req.captions().isEmpty()) {
      return new TrainingImages(imgs, masks);
    }
    return new TrainingImages(
        imgs, masks, req.captions().stream().map(TrainingImages.ImageCaptions::of).toList());
  }

  private List<ConceptUse> resolveConcepts(GenerateRequestV1 req) throws JobFailure {
    List<ConceptUse> uses = new ArrayList<>();
    for (int i = 0; i < req.concepts().size(); i++) {
      GenerateRequestV1.ConceptRef ref = req.concepts().get(i);
      ConceptRegistered entry =
          catalog
              .find(ref.conceptId(), req.tenant(), Duration.ofSeconds(5))
              .orElseThrow(
                  () ->
                      new JobFailure(
                          "/concepts/" + uses.size() + "/conceptId",
                          "no concept '" + ref.conceptId() + "' for this tenant"));
      try {
        uses.add(conceptUse(ref, ConceptFile.fromBytes(Base64.getDecoder().decode(entry.file()))));
      } catch (IOException | IllegalArgumentException e) {
        throw new JobFailure(
            "/concepts/" + i + "/conceptId",
            "concept '" + ref.conceptId() + "' cannot be read: " + e.getMessage());
      }
    }
    return uses;
  }

  /** A request's concept as the engine uses it: the file with the request's run-time choices. */
  static ConceptUse conceptUse(GenerateRequestV1.ConceptRef ref, Concept file) {
    Concept c =
        ref.superclassLayout() == null
            ? file
            : SuperclassLayout.apply(file, ref.superclassLayout());
    return new ConceptUse(
        c,
        ref.beta() == null ? null : ref.beta().floatValue(),
        ref.tau() == null ? null : ref.tau().floatValue());
  }

  /** Carries a checked job failure out of the model thread's lambda. */
  private static final class WrappedFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final transient JobFailure failure;

    WrappedFailure(JobFailure f) {
      super(f.getMessage(), null, false, false);
      this.failure = f;
    }
  }

  private interface Work<T> {
    T run() throws JobFailure;
  }

  private static <T> T call(Work<T> w) {
    try {
      return w.run();
    } catch (JobFailure f) {
      throw new WrappedFailure(f);
    }
  }
}
