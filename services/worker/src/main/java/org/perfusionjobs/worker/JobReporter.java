package org.perfusionjobs.worker;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
  private final JobEvent.Job job;
  private final AtomicLong seq;
  private final long intervalNanos;
  private volatile long lastProgress;
  private volatile JobEvent last;

  JobReporter(
      EventPublisher publisher,
      String jobId,
      String tenant,
      String jobType,
      String worker,
      long epoch,
      Duration interval) {
    this.publisher = publisher;
    this.job = new JobEvent.Job(jobId, tenant, jobType, worker);
    this.seq = new AtomicLong(Math.max(1, epoch) * JobClaims.SEQ_PER_EPOCH);
    this.intervalNanos = interval.toNanos();
  }

  JobEvent running() {
    return emitAndWait(JobEvent.running(job, seq.incrementAndGet()));
  }

  JobEvent failed(FieldError error) {
    return emitAndWait(JobEvent.failed(job, seq.incrementAndGet(), JobEvent.Error.from(error)));
  }

  JobEvent cancelled(String reason) {
    return emitAndWait(JobEvent.cancelled(job, seq.incrementAndGet(), reason));
  }

  /**
   * The success event, with its seq, not yet published (it is stored first, see JobIntake's settle
   * step).
   */
  JobEvent prepareResult(JobEvent.Result result) {
    return JobEvent.succeeded(job, seq.incrementAndGet(), result);
  }

  /** Publishes a prepared event and waits for the broker. */
  JobEvent publish(JobEvent e) {
    return emitAndWait(e);
  }

  /** Republishes a stored terminal event under a new sequence number. */
  JobEvent replay(JobEvent stored) {
    return emitAndWait(stored.republished(job, seq.incrementAndGet()));
  }

  /** A progress event unless one went out less than the interval ago (first and last always go). */
  void progress(int step, int total, Double loss, Duration eta, Supplier<String> preview) {
    long now = System.nanoTime();
    if (step != 1 && step != total && now - lastProgress < intervalNanos) {
      return;
    }
    lastProgress = now;
    emit(
        JobEvent.progress(
            job,
            seq.incrementAndGet(),
            step,
            total,
            loss,
            eta.toMillis(),
            preview == null ? null : preview.get()));
  }

  JobEvent last() {
    return last;
  }

  private JobEvent emit(JobEvent e) {
    last = e;
    // Not awaited; the producer retries through a broker outage up to its delivery timeout, past
    // which it is lost and said so.
    publisher
        .event(e)
        .onFailure(
            err ->
                LOG.warn(
                    "progress event {} of job {} not delivered: {}",
                    e.seq(),
                    job.jobId(),
                    err.toString()));
    return e;
  }

  /**
   * Publishes and waits for the broker's acknowledgement; an error is an infrastructure error
   * (unchecked).
   */
  private JobEvent emitAndWait(JobEvent e) {
    last = e;
    try {
      // The producer itself gives up after its delivery timeout (the outage limit); this wait only
      // guards against a hang.
      long waitS = publisher.deliveryTimeout().toSeconds() + 30;
      publisher.event(e).toCompletionStage().toCompletableFuture().get(waitS, TimeUnit.SECONDS);
    } catch (ExecutionException ex) {
      throw new IllegalStateException(
          "could not publish the "
              + e.state()
              + " event of job "
              + job.jobId()
              + ": "
              + ex.getCause(),
          ex.getCause());
    } catch (TimeoutException ex) {
      throw new IllegalStateException(
          "could not publish the " + e.state() + " event of job " + job.jobId() + " in time", ex);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(
          "interrupted while publishing an event of job " + job.jobId(), ex);
    }
    return e;
  }
}
