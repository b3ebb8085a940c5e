package org.perfusionjobs.contracts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The event factories: each sets its kind and state, validates, and writes the v1 fields in the v1
 * order.
 */
class JobEventTest {
  static final JobEvent.Job JOB = new JobEvent.Job("gen-1", "acme", "generate", "worker-1");

  static JsonNode wire(JobEvent e) {
    JsonNode n = Schemas.json().valueToTree(e);
    assertEquals(List.of(), Schemas.errors(Schemas.JOB_EVENT, 1, n), n.toString());
    return n;
  }

  static List<String> fields(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }

  @Test
  void stateEventsCarryOnlyTheirFields() {
    JsonNode queued = wire(JobEvent.queued(JOB, 0));
    assertEquals(
        List.of("jobId", "tenant", "seq", "kind", "state", "jobType", "time", "worker"),
        fields(queued));
    assertEquals("state", queued.get("kind").asText());
    assertEquals("queued", queued.get("state").asText());
    assertEquals(0, queued.get("seq").asLong());
    assertEquals("running", wire(JobEvent.running(JOB, 1_000_001)).get("state").asText());
    assertFalse(JobEvent.running(JOB, 1).terminal());
  }

  @Test
  void failedAndCancelledCarryTheirReason() {
    JobEvent f = JobEvent.failed(JOB, 7, JobEvent.Error.from(new FieldError("/steps", "too many")));
    JsonNode n = wire(f);
    assertEquals(
        List.of("jobId", "tenant", "seq", "kind", "state", "jobType", "time", "error", "worker"),
        fields(n));
    assertEquals("{\"field\":\"/steps\",\"reason\":\"too many\"}", n.get("error").toString());
    assertTrue(f.terminal());
    // A whole-record error names no field (the schema's field is a JSON pointer, never empty).
    assertNull(JobEvent.Error.from(new FieldError("", "malformed JSON")).field());
    JobEvent c = JobEvent.cancelled(JOB, 8, "user pressed stop");
    assertEquals("cancelled", wire(c).get("state").asText());
    assertEquals("{\"reason\":\"user pressed stop\"}", wire(c).get("error").toString());
  }

  @Test
  void progressAndResults() {
    JsonNode p = wire(JobEvent.progress(JOB, 3, 12, 20, null, 800, null));
    assertEquals(
        List.of(
            "jobId", "tenant", "seq", "kind", "state", "jobType", "time", "step", "total", "etaMs",
            "worker"),
        fields(p));
    assertEquals("progress", p.get("kind").asText());
    assertEquals("running", p.get("state").asText());
    JsonNode trainStep =
        wire(
            JobEvent.progress(
                new JobEvent.Job("t", "acme", "train", "w"), 3, 1, 2, 0.25, 10, null));
    assertEquals(0.25, trainStep.get("loss").asDouble());

    JobEvent images =
        JobEvent.succeeded(JOB, 9, JobEvent.Result.images(List.of("img-gen-1-0"), 64, 64, 1400));
    JsonNode n = wire(images);
    assertEquals("result", n.get("kind").asText());
    assertEquals("succeeded", n.get("state").asText());
    assertEquals(
        "{\"imageBlobIds\":[\"img-gen-1-0\"],\"width\":64,\"height\":64,\"engineMs\":1400}",
        n.get("result").toString());
    JsonNode concept =
        wire(JobEvent.succeeded(JOB, 9, JobEvent.Result.concept("train-1", 5000, 100_000)));
    assertEquals(
        "{\"conceptId\":\"train-1\",\"engineMs\":5000,\"fileBytes\":100000}",
        concept.get("result").toString());
  }

  @Test
  void aRepublishedEventKeepsItsOutcomeUnderANewSeqAndWriter() throws Exception {
    JobEvent stored =
        JobEvent.succeeded(JOB, 1_000_031, JobEvent.Result.images(List.of("a", "b"), 32, 32, 10));
    // As read back from the claim's stored JSON, with a field a later version added.
    ObjectNode json = Schemas.json().valueToTree(stored);
    json.put("fieldFromTheFuture", 1);
    JobEvent read = Schemas.json().treeToValue(json, JobEvent.class);
    JobEvent again =
        read.republished(new JobEvent.Job("gen-1", "acme", "generate", "worker-2"), 2_000_001);
    assertEquals(2_000_001, again.seq());
    assertEquals("worker-2", again.worker());
    assertEquals(stored.result(), again.result());
    assertEquals(stored.kind(), again.kind());
    assertEquals(stored.state(), again.state());
    wire(again);
  }
}
