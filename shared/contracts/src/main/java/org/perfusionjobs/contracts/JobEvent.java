package org.perfusionjobs.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;

/**
 * job-event v1: a state change, progress or result of one job (see schemas/job-event.v1.json). Code
 * builds events with the factories ({@link #queued}, {@link #running}, {@link #progress}, {@link
 * #succeeded}, {@link #failed}, {@link #cancelled}, {@link #republished}), which set the kind, the
 * state and the fields that go with them; the canonical constructor is the JSON mapper's.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobEvent(
    String jobId,
    String tenant,
    long seq,
    String kind,
    String state,
    String jobType,
    String time,
    Integer step,
    Integer total,
    Double loss,
    Long etaMs,
    String preview,
    Error error,
    Result result,
    String worker) {

  public static final String QUEUED = "queued";
  public static final String RUNNING = "running";
  public static final String SUCCEEDED = "succeeded";
  public static final String FAILED = "failed";
  public static final String CANCELLED = "cancelled";

  /** Kind of an event that changes the state. */
  public static final String KIND_STATE = "state";

  /** Kind of an event that reports a finished step. */
  public static final String KIND_PROGRESS = "progress";

  /** Kind of the event of a job that succeeded (it carries the result). */
  public static final String KIND_RESULT = "result";

  /**
   * Whose events these are and who writes them.
   *
   * @param jobType {@code train} or {@code generate}
   * @param writer the worker's id, or {@code gateway}
   */
  public record Job(String jobId, String tenant, String jobType, String writer) {}

  public boolean terminal() {
    return SUCCEEDED.equals(state) || FAILED.equals(state) || CANCELLED.equals(state);
  }

  /** The gateway accepted the job (written before the request, seq 0). */
  public static JobEvent queued(Job job, long seq) {
    return event(job, seq, KIND_STATE, QUEUED, new Details());
  }

  /** A worker claimed the job and starts it. */
  public static JobEvent running(Job job, long seq) {
    return event(job, seq, KIND_STATE, RUNNING, new Details());
  }

  /**
   * A step finished.
   *
   * @param loss training loss of the step, or null (generation)
   * @param preview small PNG, base64, or null
   */
  public static JobEvent progress(
      Job job, long seq, int step, int total, Double loss, long etaMs, String preview) {
    Details d = new Details();
    d.step = step;
    d.total = total;
    d.loss = loss;
    d.etaMs = etaMs;
    d.preview = preview;
    return event(job, seq, KIND_PROGRESS, RUNNING, d);
  }

  /** The job succeeded with this result. */
  public static JobEvent succeeded(Job job, long seq, Result result) {
    Details d = new Details();
    d.result = result;
    return event(job, seq, KIND_RESULT, SUCCEEDED, d);
  }

  /** The job failed, for a reason that names the request field to blame where there is one. */
  public static JobEvent failed(Job job, long seq, Error error) {
    Details d = new Details();
    d.error = error;
    return event(job, seq, KIND_STATE, FAILED, d);
  }

  /** The job was cancelled; the reason is the cancel request's, or says when it stopped. */
  public static JobEvent cancelled(Job job, long seq, String reason) {
    Details d = new Details();
    d.error = Error.of(reason);
    return event(job, seq, KIND_STATE, CANCELLED, d);
  }

  /**
   * This (stored, terminal) event again, as a replay of the job publishes it: same kind, state,
   * error and result, with a new seq, time and writer, and without the preview.
   */
  public JobEvent republished(Job job, long newSeq) {
    Details d = new Details();
    d.step = step;
    d.total = total;
    d.loss = loss;
    d.etaMs = etaMs;
    d.error = error;
    d.result = result;
    return event(job, newSeq, kind, state, d);
  }

  /** The optional fields of one event, set by name; those left unset are not written. */
  private static final class Details {
    Integer step;
    Integer total;
    Double loss;
    Long etaMs;
    String preview;
    Error error;
    Result result;
  }

  /**
   * The one place that calls the canonical constructor (for code; the JSON mapper calls it too).
   */
  private static JobEvent event(Job job, long seq, String kind, String state, Details d) {
    return new JobEvent(
        job.jobId(),
        job.tenant(),
        seq,
        kind,
        state,
        job.jobType(),
        now(),
        d.step,
        d.total,
        d.loss,
        d.etaMs,
        d.preview,
        d.error,
        d.result,
        job.writer());
  }

  private static String now() {
    return Instant.now().toString();
  }

  /** Why a job failed or was cancelled; field is a JSON pointer into the request, or null. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Error(String field, String reason) {
    /** A reason that blames no particular field. */
    public static Error of(String reason) {
      return new Error(null, reason);
    }

    /** A request error; the whole record ({@code ""}) blames no field. */
    public static Error from(FieldError e) {
      return new Error(e.field().isEmpty() ? null : e.field(), e.reason());
    }
  }

  /** What a job produced: images (generate) or a concept (train). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Result(
      List<String> imageBlobIds,
      String conceptId,
      Integer width,
      Integer height,
      Long engineMs,
      Long fileBytes) {
    /** A generation's images, in the blob store. */
    public static Result images(List<String> imageBlobIds, int width, int height, long engineMs) {
      return new Result(List.copyOf(imageBlobIds), null, width, height, engineMs, null);
    }

    /** A training's concept, in the registry. */
    public static Result concept(String conceptId, long engineMs, long fileBytes) {
      return new Result(null, conceptId, null, null, engineMs, fileBytes);
    }
  }
}
