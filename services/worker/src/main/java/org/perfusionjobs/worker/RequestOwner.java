package org.perfusionjobs.worker;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.regex.Pattern;
import org.perfusionjobs.contracts.Schemas;

/**
 * Whose request an invalid record is: the job id (the record key, else the payload's jobId) and the
 * tenant the payload names, read leniently from a record that failed validation (an unknown field,
 * a wrong type, an oversized payload...), so its failed event reaches its owner instead of a tenant
 * "unknown" nobody reads. Values that do not match the schema's patterns become "unknown".
 */
record RequestOwner(String jobId, String tenant) {
  private static final Pattern JOB_ID = Pattern.compile("[A-Za-z0-9._-]{1,100}");
  private static final Pattern TENANT = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  static RequestOwner of(byte[] value, String key) {
    JsonNode n = null;
    try {
      n = value == null ? null : Schemas.json().readTree(value);
    } catch (java.io.IOException | RuntimeException e) {
      // not JSON: nothing to read the owner from
    }
    String tenant = n != null && n.path("tenant").isTextual() && TENANT.matcher(n.get("tenant").asText()).matches() ? n.get("tenant").asText() : "unknown";
    String jobId = key != null && JOB_ID.matcher(key).matches() ? key
        : n != null && n.path("jobId").isTextual() && JOB_ID.matcher(n.get("jobId").asText()).matches() ? n.get("jobId").asText() : "unknown";
    return new RequestOwner(jobId, tenant);
  }
}
