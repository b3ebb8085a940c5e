package org.perfusionjobs.worker;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.FieldError;
import org.perfusionjobs.contracts.GenerateRequestV1;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.InvalidEventException;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.TrainRequestV1;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.TrainingImages;
import org.perfusionjobs.engine.pipeline.GenerationCancelledException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The job-intake thread: the only user of the share consumer (it is not thread-safe). It takes one
 * record at a time (record_limit mode, explicit acknowledgement), validates it, hands the work to
 * the model thread, renews the record lock while the job runs, and acknowledges the outcome:
 * ACCEPT when done (succeeded, cancelled, or an already-finished duplicate), REJECT when the
 * request can never succeed (after a failed event and a dead-letter record naming the field).
 */
final class JobIntake implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(JobIntake.class);
  private final WorkerConfig cfg;
  private final ModelRunner runner;
  private final RedisStore redis;
  private final EventPublisher publisher;
  private final ConceptCatalog catalog;
  private final CancelRegistry cancels;
  private final Metrics metrics;
  private final JobExecutor executor;
  private final ImageFetcher images;
  private final String topic;
  private final java.util.concurrent.atomic.AtomicBoolean modelBusy;
  private volatile boolean running = true;
  private volatile KafkaShareConsumer<String, byte[]> consumer;

  /**
   * @param topic the one job topic this intake consumes, in its own share group ({@code <group>-<topic kind>}):
   *     a share group assigns partitions to members, and only a topic with fewer partitions than
   *     members (one partition) is shared by every worker; two topics in one group were split
   *     between two workers, which let a job wait behind a busy worker while the other idled
   * @param modelBusy shared by the worker's intakes: only an intake that takes it may hold a record,
   *     so an idle worker never sits on a job while its model thread is busy with another
   */
  JobIntake(WorkerConfig cfg, String topic, java.util.concurrent.atomic.AtomicBoolean modelBusy, ModelRunner runner, RedisStore redis, EventPublisher publisher, ConceptCatalog catalog, CancelRegistry cancels, Metrics metrics) {
    this.topic = topic;
    this.modelBusy = modelBusy;
    this.cfg = cfg;
    this.runner = runner;
    this.redis = redis;
    this.publisher = publisher;
    this.catalog = catalog;
    this.cancels = cancels;
    this.metrics = metrics;
    this.executor = new JobExecutor(cfg, redis, publisher, metrics);
    this.images = new ImageFetcher(redis, cfg);
  }

  @Override
  public void run() {
    Properties p = new Properties();
    p.put("bootstrap.servers", cfg.bootstrapServers());
    p.put("group.id", groupId(cfg, topic));
    p.put("client.id", cfg.workerId() + "-" + kind(cfg, topic));
    // While the other intake runs a long job this one does not poll; that must not evict it.
    p.put("max.poll.interval.ms", "3600000");
    p.put("share.acknowledgement.mode", "explicit");
    p.put("share.acquire.mode", "record_limit");
    p.put("max.poll.records", "1");
    try (KafkaShareConsumer<String, byte[]> c = new KafkaShareConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      consumer = c;
      c.subscribe(List.of(topic));
      while (running) {
        if (modelBusy.get()) {
          Thread.sleep(20);
          continue;
        }
        ConsumerRecords<String, byte[]> records = c.poll(Duration.ofMillis(200));
        for (ConsumerRecord<String, byte[]> r : records) {
          if (!modelBusy.compareAndSet(false, true)) {
            // The other intake took a job in the same instant: give this one back at once.
            ack(c, new InFlight(r), AcknowledgeType.RELEASE);
            continue;
          }
          try {
            handle(c, new InFlight(r));
          } catch (RuntimeException e) {
            // Never let one record stop the worker; an unacknowledged record returns to the queue.
            LOG.error("record {}/{}/{} could not be handled", r.topic(), r.partition(), r.offset(), e);
          } finally {
            modelBusy.set(false);
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (WakeupException e) {
      // stop() woke the poll: leave; unacknowledged records return to the queue.
    } catch (RuntimeException e) {
      LOG.error("job intake stopped", e);
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
    KafkaShareConsumer<String, byte[]> c = consumer;
    if (c != null) {
      c.wakeup();
    }
  }

  boolean alive() {
    return running;
  }

  /** The latest delivery of the record being worked on: a RENEW makes poll hand it out again. */
  private static final class InFlight {
    ConsumerRecord<String, byte[]> record;
    /** Set when a renewal did not come back: another worker may run the job now, so stop ours. */
    volatile boolean lockLost;

    InFlight(ConsumerRecord<String, byte[]> record) {
      this.record = record;
    }
  }

  private void handle(KafkaShareConsumer<String, byte[]> c, InFlight inFlight) {
    ConsumerRecord<String, byte[]> r = inFlight.record;
    boolean train = r.topic().equals(cfg.topics().train());
    String jobType = train ? "train" : "generate";
    int delivery = r.deliveryCount().map(Short::intValue).orElse(1);
    JsonNode node;
    try {
      node = Schemas.validate(train ? Schemas.TRAIN_REQUEST : Schemas.GENERATE_REQUEST, header(r, Headers.VERSION), r.value());
      String schema = header(r, Headers.SCHEMA);
      String expected = train ? Schemas.TRAIN_REQUEST : Schemas.GENERATE_REQUEST;
      if (schema != null && !schema.equals(expected)) {
        throw new InvalidEventException(new FieldError("", "header " + Headers.SCHEMA + " is '" + schema + "' but topic " + r.topic() + " takes " + expected));
      }
      if (r.key() != null && !r.key().equals(node.get("jobId").asText())) {
        throw new InvalidEventException(new FieldError("/jobId", "'" + node.get("jobId").asText() + "' differs from the record key '" + r.key() + "'"));
      }
    } catch (InvalidEventException e) {
      // Reported to the tenant the record names (the producer is trusted to name it), so its owner sees why.
      RequestOwner ro = RequestOwner.of(r.value(), r.key());
      reject(c, inFlight, new JobReporter(publisher, ro.jobId(), ro.tenant(), jobType, cfg.workerId(), delivery, cfg.progressInterval()), e.error());
      return;
    }
    String jobId = node.get("jobId").asText();
    String tenant = node.get("tenant").asText();
    JobReporter rep = new JobReporter(publisher, jobId, tenant, jobType, cfg.workerId(), delivery, cfg.progressInterval());
    String owner = r.topic() + "/" + r.partition() + "/" + r.offset();

    JobSnapshot snap = JobSnapshot.parse(redis.job(tenant, jobId));
    if (snap != null && snap.event() != null && snap.event().terminal() && JobEvent.SUCCEEDED.equals(snap.event().state())) {
      rep.replay(snap.event()); // finished before: republish, do not run again
      ack(c, inFlight, AcknowledgeType.ACCEPT);
      return;
    }
    if (snap != null && !owner.equals(snap.owner()) && (snap.event() == null || !snap.event().terminal())) {
      LOG.info("job {} is already being run from {}; dropping duplicate record {}", jobId, snap.owner(), owner);
      ack(c, inFlight, AcknowledgeType.ACCEPT);
      return;
    }
    if (cancels.isCancelled(tenant, jobId, redis)) {
      finish(rep.cancelled("cancelled before it started"), owner, jobType);
      ack(c, inFlight, AcknowledgeType.ACCEPT);
      return;
    }
    metrics.queueWait(Math.max(0, System.currentTimeMillis() - r.timestamp()) / 1000.0);
    long started = System.nanoTime();
    JobEvent runningEvent = rep.state(JobEvent.RUNNING);
    redis.putJob(tenant, jobId, JobSnapshot.json(owner, runningEvent), Duration.ofDays(7));
    try {
      CompletableFuture<JobEvent.Result> work = submit(node, train, tenant, jobId, rep, inFlight);
      JobEvent.Result result = awaitRenewing(c, inFlight, work);
      finish(rep.result(result), owner, jobType);
      ack(c, inFlight, AcknowledgeType.ACCEPT);
    } catch (JobFailure f) {
      reject(c, inFlight, rep, f.error());
      finishSnapshot(rep.last(), owner);
    } catch (GenerationCancelledException e) {
      if (inFlight.lockLost) {
        // The record went back to the queue without us; whoever has it now finishes the job.
        LOG.warn("job {}: record lock lost after a renewal; stopped after {} steps and left it to the next holder", jobId, e.completedSteps());
        return;
      }
      finish(rep.cancelled("cancelled after " + e.completedSteps() + " steps"), owner, jobType);
      ack(c, inFlight, AcknowledgeType.ACCEPT);
    } catch (RuntimeException e) {
      LOG.error("job {} failed", jobId, e);
      reject(c, inFlight, rep, new FieldError("", "internal error: " + e));
      finishSnapshot(rep.last(), owner);
    } finally {
      metrics.runTime((System.nanoTime() - started) / 1e9);
    }
  }

  private CompletableFuture<JobEvent.Result> submit(JsonNode node, boolean train, String tenant, String jobId, JobReporter rep, InFlight inFlight) throws JobFailure {
    try {
      if (train) {
        TrainRequestV1 req = Schemas.json().treeToValue(node, TrainRequestV1.class);
        // Images are fetched on the model thread, so this thread keeps renewing the lock meanwhile.
        return runner.submit(sd -> call(() -> executor.train(sd, req, resolveImages(req), rep, () -> inFlight.lockLost || cancels.isCancelledLocally(tenant, jobId))));
      }
      GenerateRequestV1 req = Schemas.json().treeToValue(node, GenerateRequestV1.class);
      List<ConceptUse> concepts = resolveConcepts(req);
      return runner.submit(sd -> call(() -> executor.generate(sd, req, concepts, rep, () -> inFlight.lockLost || cancels.isCancelledLocally(tenant, jobId))));
    } catch (java.io.IOException e) {
      throw new JobFailure("", "request does not map to its record type: " + e.getMessage());
    }
  }

  private TrainingImages resolveImages(TrainRequestV1 req) throws JobFailure {
    List<BufferedImage> imgs = new ArrayList<>();
    for (int i = 0; i < req.images().size(); i++) {
      imgs.add(images.fetch(req.tenant(), req.images().get(i), "/images/" + i));
    }
    List<BufferedImage> masks = null;
    if (!req.masks().isEmpty()) {
      if (req.masks().size() != req.images().size()) {
        throw new JobFailure("/masks", req.masks().size() + " masks for " + req.images().size() + " images");
      }
      masks = new ArrayList<>();
      for (int i = 0; i < req.masks().size(); i++) {
        masks.add(images.fetch(req.tenant(), req.masks().get(i), "/masks/" + i));
      }
    }
    return new TrainingImages(imgs, masks);
  }

  private List<ConceptUse> resolveConcepts(GenerateRequestV1 req) throws JobFailure {
    List<ConceptUse> uses = new ArrayList<>();
    for (int i = 0; i < req.concepts().size(); i++) {
      GenerateRequestV1.ConceptRef ref = req.concepts().get(i);
      ConceptRegistered entry = catalog.find(ref.conceptId(), req.tenant(), Duration.ofSeconds(5))
          .orElseThrow(() -> new JobFailure("/concepts/" + uses.size() + "/conceptId", "no concept '" + ref.conceptId() + "' for this tenant"));
      try {
        uses.add(new ConceptUse(ConceptFile.fromBytes(Base64.getDecoder().decode(entry.file())),
            ref.beta() == null ? null : ref.beta().floatValue(), ref.tau() == null ? null : ref.tau().floatValue()));
      } catch (java.io.IOException | IllegalArgumentException e) {
        throw new JobFailure("/concepts/" + i + "/conceptId", "concept '" + ref.conceptId() + "' cannot be read: " + e.getMessage());
      }
    }
    return uses;
  }

  /** Waits for the job, renewing the record lock and polling between renewals (required in explicit mode). */
  private JobEvent.Result awaitRenewing(KafkaShareConsumer<String, byte[]> c, InFlight inFlight, CompletableFuture<JobEvent.Result> work) throws JobFailure {
    while (true) {
      ConsumerRecord<String, byte[]> r = inFlight.record;
      try {
        return work.get(cfg.renewInterval().toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException stillRunning) {
        if (inFlight.lockLost) {
          continue; // the job is stopping at its next step; nothing left to renew
        }
        try {
          c.acknowledge(r, AcknowledgeType.RENEW);
        } catch (IllegalStateException e) {
          LOG.warn("could not renew the lock of {}/{}/{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
        }
        // The renewed record comes back from the next polls (KAFKA-20458) and only that new
        // delivery can be acknowledged later; any other record is not ours to hold now.
        // Wait for it even if the job has just finished: acknowledging the older delivery fails,
        // and the record would come back (a second "succeeded" was seen when this loop stopped early).
        long until = System.nanoTime() + 10_000_000_000L;
        boolean back = false;
        while (!back && System.nanoTime() < until) {
          for (ConsumerRecord<String, byte[]> other : c.poll(Duration.ofMillis(100))) {
            if (other.partition() == r.partition() && other.offset() == r.offset() && other.topic().equals(r.topic())) {
              inFlight.record = other;
              back = true;
            } else {
              c.acknowledge(other, AcknowledgeType.RELEASE);
            }
          }
        }
        if (!back) {
          inFlight.lockLost = true;
        }
        c.commitSync(Duration.ofSeconds(10));
      } catch (ExecutionException e) {
        Throwable cause = e.getCause() instanceof java.util.concurrent.CompletionException ? e.getCause().getCause() : e.getCause();
        if (cause instanceof WrappedFailure w) {
          throw w.failure;
        }
        if (cause instanceof RuntimeException re) {
          throw re;
        }
        throw new IllegalStateException(cause);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the model thread", e);
      }
    }
  }

  private void reject(KafkaShareConsumer<String, byte[]> c, InFlight inFlight, JobReporter rep, FieldError error) {
    ConsumerRecord<String, byte[]> r = inFlight.record;
    rep.failed(error);
    metrics.job(r.topic().equals(cfg.topics().train()) ? "train" : "generate", JobEvent.FAILED);
    publisher.deadLetter(r, error);
    ack(c, inFlight, AcknowledgeType.REJECT);
  }

  private void finish(JobEvent terminal, String owner, String jobType) {
    metrics.job(jobType, terminal.state());
    finishSnapshot(terminal, owner);
  }

  private void finishSnapshot(JobEvent terminal, String owner) {
    if (terminal != null) {
      redis.putJob(terminal.tenant(), terminal.jobId(), JobSnapshot.json(owner, terminal), Duration.ofDays(7));
    }
  }

  /**
   * Acknowledges the latest delivery. If the lock was lost meanwhile (the record went to another
   * worker), the acknowledgement fails; jobs are idempotent, so that is logged, not fatal.
   */
  private static void ack(KafkaShareConsumer<String, byte[]> c, InFlight inFlight, AcknowledgeType type) {
    ConsumerRecord<String, byte[]> r = inFlight.record;
    try {
      c.acknowledge(r, type);
      c.commitSync(Duration.ofSeconds(10));
    } catch (IllegalStateException | org.apache.kafka.common.KafkaException e) {
      LOG.warn("could not {} record {}/{}/{}: {}", type, r.topic(), r.partition(), r.offset(), e.getMessage());
    }
  }

  private static String header(ConsumerRecord<String, byte[]> r, String name) {
    Header h = r.headers().lastHeader(name);
    return h == null ? null : new String(h.value(), java.nio.charset.StandardCharsets.UTF_8);
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
