package org.perfusionjobs.worker;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleSupplier;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * The worker's metrics in the Prometheus text format: jobs by final state, failures, queue wait,
 * run time and step time (as sums and counts), model utilisation, the generation batch (UNet calls,
 * requests in it).
 */
public final class Metrics {
  private final Map<String, LongAdder> jobs = new ConcurrentHashMap<>();
  private final LongAdder failures = new LongAdder();
  private final Timer queueWait = new Timer();
  private final Timer runTime = new Timer();
  private final Timer stepTime = new Timer();
  private final DoubleSupplier utilisation;
  private final LongSupplier unetCalls;
  private final IntSupplier batched;

  /**
   * @param unetCalls UNet calls of the generation batch so far
   * @param batched generation requests in the batch now
   */
  Metrics(DoubleSupplier utilisation, LongSupplier unetCalls, IntSupplier batched) {
    this.utilisation = utilisation;
    this.unetCalls = unetCalls;
    this.batched = batched;
  }

  void job(String jobType, String state) {
    jobs.computeIfAbsent(jobType + "|" + state, k -> new LongAdder()).increment();
    if ("failed".equals(state)) {
      failures.increment();
    }
  }

  void queueWait(double seconds) {
    queueWait.add(seconds);
  }

  void runTime(double seconds) {
    runTime.add(seconds);
  }

  void stepTime(double seconds) {
    stepTime.add(seconds);
  }

  public String scrape() {
    StringBuilder sb = new StringBuilder();
    sb.append(
        "# HELP perfusion_jobs_total Jobs finished, by type and final state.\n"
            + "# TYPE perfusion_jobs_total counter\n");
    jobs.forEach(
        (k, v) -> {
          String[] p = k.split("\\|");
          sb.append("perfusion_jobs_total{type=\"")
              .append(p[0])
              .append("\",state=\"")
              .append(p[1])
              .append("\"} ")
              .append(v.sum())
              .append('\n');
        });
    sb.append(
            "# HELP perfusion_job_failures_total Jobs that failed.\n"
                + "# TYPE perfusion_job_failures_total counter\n"
                + "perfusion_job_failures_total ")
        .append(failures.sum())
        .append('\n');
    queueWait.write(sb, "perfusion_queue_wait_seconds", "Time from request produced to job start.");
    runTime.write(sb, "perfusion_job_run_seconds", "Time a job ran on the model thread.");
    stepTime.write(sb, "perfusion_step_seconds", "Time of one denoising or training step.");
    sb.append(
        "# HELP perfusion_model_thread_utilisation Fraction of time the model thread is busy.\n"
            + "# TYPE perfusion_model_thread_utilisation gauge\n");
    sb.append("perfusion_model_thread_utilisation ")
        .append(String.format(Locale.ROOT, "%.4f", utilisation.getAsDouble()))
        .append('\n');
    sb.append(
            "# HELP perfusion_batch_unet_calls_total UNet calls made by the generation batch"
                + " (shared by its requests).\n")
        .append(
            "# TYPE perfusion_batch_unet_calls_total counter\nperfusion_batch_unet_calls_total ")
        .append(unetCalls.getAsLong())
        .append('\n');
    sb.append(
            "# HELP perfusion_batch_requests Generation requests in the batch now.\n"
                + "# TYPE perfusion_batch_requests gauge\n"
                + "perfusion_batch_requests ")
        .append(batched.getAsInt())
        .append('\n');
    return sb.toString();
  }

  private static final class Timer {
    final DoubleAdder sum = new DoubleAdder();
    final LongAdder count = new LongAdder();

    void add(double s) {
      sum.add(s);
      count.increment();
    }

    void write(StringBuilder sb, String name, String help) {
      sb.append("# HELP ")
          .append(name)
          .append(' ')
          .append(help)
          .append("\n# TYPE ")
          .append(name)
          .append(" summary\n");
      sb.append(name)
          .append("_sum ")
          .append(String.format(Locale.ROOT, "%.6f", sum.sum()))
          .append('\n');
      sb.append(name).append("_count ").append(count.sum()).append('\n');
    }
  }
}
