package org.perfusionjobs.worker;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.perfusionjobs.contracts.FieldError;
import org.perfusionjobs.contracts.JobEvent;

/**
 * Publishes one job's events with a sequence number that only grows, also across redeliveries and
 * replays (the base is the claim's epoch times a million, see {@link JobClaims}), and throttles
 * progress to one event per interval (plus the first and the last step). State changes and outcomes
 * wait until the broker has them; progress does not.
 */
final class JobReporter {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(JobReporter.class);
  private final EventPublisher publisher;
  private final String jobId;
  private final String tenant;
  private final String jobType;
  private final String worker;
  private final AtomicLong seq;
  private final long intervalNanos;
  private volatile long lastProgress;
  private volatile JobEvent last;

  JobReporter(EventPublisher publisher, String jobId, String tenant, String jobType, String worker, long epoch, Duration interval) {
    this.publisher = publisher;
    this.jobId = jobId;
    this.tenant = tenant;
    this.jobType = jobType;
    this.worker = worker;
    this.seq = new AtomicLong(Math.max(1, epoch) * JobClaims.SEQ_PER_EPOCH);
    this.intervalNanos = interval.toNanos();
  }

  JobEvent state(String state) {
    return emitAndWait(new JobEvent(jobId, tenant, seq.incrementAndGet(), "state", state, jobType, now(), null, null, null, null, null, null, null, worker));
  }

  JobEvent failed(FieldError error) {
    return emitAndWait(new JobEvent(jobId, tenant, seq.incrementAndGet(), "state", JobEvent.FAILED, jobType, now(), null, null, null, null, null,
        new JobEvent.Error(error.field().isEmpty() ? null : error.field(), error.reason()), null, worker));
  }

  JobEvent cancelled(String reason) {
    return emitAndWait(new JobEvent(jobId, tenant, seq.incrementAndGet(), "state", JobEvent.CANCELLED, jobType, now(), null, null, null, null, null,
        new JobEvent.Error(null, reason), null, worker));
  }

  JobEvent result(JobEvent.Result result) {
    return emitAndWait(new JobEvent(jobId, tenant, seq.incrementAndGet(), "result", JobEvent.SUCCEEDED, jobType, now(), null, null, null, null, null, null, result, worker));
  }

  /** The success event, with its seq, not yet published (it is stored first, see JobIntake's settle step). */
  JobEvent prepareResult(JobEvent.Result result) {
    return new JobEvent(jobId, tenant, seq.incrementAndGet(), "result", JobEvent.SUCCEEDED, jobType, now(), null, null, null, null, null, null, result, worker);
  }

  /** Publishes a prepared event and waits for the broker. */
  JobEvent publish(JobEvent e) {
    return emitAndWait(e);
  }

  /** Republishes a stored terminal event under a new sequence number. */
  JobEvent replay(JobEvent stored) {
    return emitAndWait(new JobEvent(jobId, tenant, seq.incrementAndGet(), stored.kind(), stored.state(), jobType, now(), stored.step(), stored.total(),
        stored.loss(), stored.etaMs(), null, stored.error(), stored.result(), worker));
  }

  /** A progress event unless one went out less than the interval ago (first and last always go). */
  void progress(int step, int total, Double loss, Duration eta, Supplier<String> preview) {
    long now = System.nanoTime();
    if (step != 1 && step != total && now - lastProgress < intervalNanos) {
      return;
    }
    lastProgress = now;
    emit(new JobEvent(jobId, tenant, seq.incrementAndGet(), "progress", JobEvent.RUNNING, jobType, now(), step, total, loss,
        eta.toMillis(), preview == null ? null : preview.get(), null, null, worker));
  }

  JobEvent last() {
    return last;
  }

  private JobEvent emit(JobEvent e) {
    last = e;
    // Not awaited; the producer retries through a broker outage up to its delivery timeout, past which it is lost and said so.
    publisher.event(e).onFailure(err -> LOG.warn("progress event {} of job {} not delivered: {}", e.seq(), jobId, err.toString()));
    return e;
  }

  /** Publishes and waits for the broker's acknowledgement; an error is an infrastructure error (unchecked). */
  private JobEvent emitAndWait(JobEvent e) {
    last = e;
    try {
      // The producer itself gives up after its delivery timeout (the outage limit); this wait only guards against a hang.
      long waitS = publisher.deliveryTimeout().toSeconds() + 30;
      publisher.event(e).toCompletionStage().toCompletableFuture().get(waitS, java.util.concurrent.TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException ex) {
      throw new IllegalStateException("could not publish the " + e.state() + " event of job " + jobId + ": " + ex.getCause(), ex.getCause());
    } catch (java.util.concurrent.TimeoutException ex) {
      throw new IllegalStateException("could not publish the " + e.state() + " event of job " + jobId + " in time", ex);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while publishing an event of job " + jobId, ex);
    }
    return e;
  }

  private static String now() {
    return Instant.now().toString();
  }
}
