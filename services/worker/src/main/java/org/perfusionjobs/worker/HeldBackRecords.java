package org.perfusionjobs.worker;

/**
 * When a record found in the intake's buffer right after a long job goes back to the queue instead
 * of running here. A share consumer's fetch can overlap the one that brought a job and acquire the
 * next record; while the job runs, only its own record comes back from the renewals, so the other
 * one waits locked in the buffer and no idle worker can take it (head-of-line blocking, seen in
 * TwoWorkersTest). The intake releases it and starts a fresh consumer, so that it reaches a worker
 * that is fetching now (HeldBackRecordsTest). Releasing it costs one delivery of the topic's limit
 * ({@code share.delivery.count.limit}, 5 here), so only the first {@link #MAX_RELEASES} deliveries
 * are released: a record that keeps landing in busy workers' buffers still runs, late, instead of
 * being archived unrun.
 */
final class HeldBackRecords {
  /** A job shorter than this leaves nothing worth moving: its buffer was held for less. */
  static final long LONG_JOB_NANOS = 1_000_000_000L;

  /** Deliveries that may be released; the limit is 5, so three stay for crashes and outages. */
  static final int MAX_RELEASES = 2;

  private HeldBackRecords() {}

  /** Whether a record that waited in a busy intake's buffer, at this delivery, is released. */
  static boolean release(int deliveryCount) {
    return deliveryCount <= MAX_RELEASES;
  }
}
