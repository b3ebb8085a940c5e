package org.perfusionjobs.worker;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.perfusionjobs.contracts.FieldError;
import org.perfusionjobs.contracts.JobEvent;

/**
 * Publishes one job's events with a sequence number that only grows, also across redeliveries
 * (the base is the delivery count times a million), and throttles progress to one event per
 * interval (plus the first and the last step).
 */
final class JobReporter {
  private final EventPublisher publisher;
  private final String jobId;
  private final String tenant;
  private final String jobType;
  private final String worker;
  private final AtomicLong seq;
  private final long intervalNanos;
  private volatile long lastProgress;
  private volatile JobEvent last;

  JobReporter(EventPublisher publisher, String jobId, String tenant, String jobType, String worker, int deliveryCount, Duration interval) {
    this.publisher = publisher;
    this.jobId = jobId;
    this.tenant = tenant;
    this.jobType = jobType;
    this.worker = worker;
    this.seq = new AtomicLong(Math.max(1, deliveryCount) * 1_000_000L);
    this.intervalNanos = interval.toNanos();
  }

  JobEvent state(String state) {
    return emit(new JobEvent(jobId, tenant, seq.incrementAndGet(), "state", state, jobType, now(), null, null, null, null, null, null, null, worker));
  }

  JobEvent failed(FieldError error) {
    return emit(new JobEvent(jobId, tenant, seq.incrementAndGet(), "state", JobEvent.FAILED, jobType, now(), null, null, null, null, null,
        new JobEvent.Error(error.field().isEmpty() ? null : error.field(), error.reason()), null, worker));
  }

  JobEvent cancelled(String reason) {
    return emit(new JobEvent(jobId, tenant, seq.incrementAndGet(), "state", JobEvent.CANCELLED, jobType, now(), null, null, null, null, null,
        new JobEvent.Error(null, reason), null, worker));
  }

  JobEvent result(JobEvent.Result result) {
    return emit(new JobEvent(jobId, tenant, seq.incrementAndGet(), "result", JobEvent.SUCCEEDED, jobType, now(), null, null, null, null, null, null, result, worker));
  }

  /** Republishes a stored terminal event under a new sequence number. */
  JobEvent replay(JobEvent stored) {
    return emit(new JobEvent(jobId, tenant, seq.incrementAndGet(), stored.kind(), stored.state(), jobType, now(), stored.step(), stored.total(),
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
    publisher.event(e);
    return e;
  }

  private static String now() {
    return Instant.now().toString();
  }
}
