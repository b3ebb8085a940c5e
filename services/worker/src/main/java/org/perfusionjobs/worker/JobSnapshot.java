package org.perfusionjobs.worker;

import com.fasterxml.jackson.databind.JsonNode;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.Schemas;

/**
 * What Redis remembers of a job for idempotency: which record owns it (topic/partition/offset) and
 * its last state event. A redelivery of the same record may resume; another record with the same
 * job id is a duplicate.
 */
record JobSnapshot(String owner, JobEvent event) {

  static JobSnapshot parse(String json) {
    if (json == null) {
      return null;
    }
    try {
      JsonNode n = Schemas.json().readTree(json);
      return new JobSnapshot(n.path("owner").asText(null), Schemas.json().treeToValue(n.get("event"), JobEvent.class));
    } catch (java.io.IOException | RuntimeException e) {
      return null;
    }
  }

  static String json(String owner, JobEvent event) {
    return EventPublisher.jsonString(new JobSnapshot(owner, event));
  }
}
