package org.perfusionjobs.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/** job-event v1: a state change, progress or result of one job (see schemas/job-event.v1.json). */
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

  public boolean terminal() {
    return SUCCEEDED.equals(state) || FAILED.equals(state) || CANCELLED.equals(state);
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Error(String field, String reason) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Result(List<String> imageBlobIds, String conceptId, Integer width, Integer height, Long engineMs, Long fileBytes) {}
}
