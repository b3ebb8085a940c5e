package org.perfusionjobs.gateway;

import java.util.ArrayList;
import java.util.List;
import org.perfusionjobs.contracts.JobEvent;

/**
 * What the gateway knows of one job, built from the events topic: every event in sequence order
 * (events whose seq is not above the last one are dropped), and the latest state.
 */
final class JobView {
  private static final int MAX_HISTORY = 2000;
  final String jobId;
  final String tenant;
  private final List<JobEvent> history = new ArrayList<>();
  private JobEvent latest;
  private JobEvent lastState;

  JobView(String jobId, String tenant) {
    this.jobId = jobId;
    this.tenant = tenant;
  }

  /** Adds an event; false if it is not newer than what was seen (a replay or reorder). */
  synchronized boolean add(JobEvent e) {
    if (latest != null && e.seq() <= latest.seq()) {
      return false;
    }
    latest = e;
    if (!JobEvent.KIND_PROGRESS.equals(e.kind())) {
      lastState = e;
    }
    history.add(e);
    if (history.size() > MAX_HISTORY) {
      history.remove(0);
    }
    return true;
  }

  synchronized List<JobEvent> after(long seq) {
    return history.stream().filter(e -> e.seq() > seq).toList();
  }

  synchronized JobEvent latest() {
    return latest;
  }

  /** A snapshot: the latest state with the latest progress folded in. */
  synchronized Snapshot snapshot() {
    JobEvent s = lastState != null ? lastState : latest;
    JobEvent p = latest;
    return new Snapshot(
        jobId,
        tenant,
        s.jobType(),
        s.state(),
        latest.seq(),
        p.step(),
        p.total(),
        p.loss(),
        p.etaMs(),
        s.error(),
        s.result(),
        latest.time());
  }

  record Snapshot(
      String jobId,
      String tenant,
      String jobType,
      String state,
      long seq,
      Integer step,
      Integer total,
      Double loss,
      Long etaMs,
      JobEvent.Error error,
      JobEvent.Result result,
      String updated) {}
}
