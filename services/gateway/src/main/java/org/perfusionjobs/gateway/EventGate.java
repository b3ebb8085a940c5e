package org.perfusionjobs.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.InvalidEventException;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.Schemas;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets through only the job events that hold to their schema (by the record's schema and version
 * headers), before the gateway uses them: anyone who can write to the events topic could otherwise
 * feed job views and WebSocket subscribers with forged shapes. Unknown fields are ignored, as
 * docs/events.md asks of consumers; everything else the schema says holds, and tenant and job id
 * must be well-formed. A dropped event is counted by the field to blame ({@link #metrics}) and
 * logged once per field with the reason, so a flood of bad records does not flood the log.
 */
final class EventGate {
  private static final Logger LOG = LoggerFactory.getLogger(EventGate.class);
  private final Map<String, LongAdder> dropped = new ConcurrentHashMap<>();

  /** The event in {@code r}, or null when it is dropped. */
  JobEvent admit(ConsumerRecord<String, byte[]> r) {
    String field;
    String reason;
    try {
      String schema = header(r, Headers.SCHEMA);
      if (!Schemas.JOB_EVENT.equals(schema)) {
        throw new InvalidEventException(
            new org.perfusionjobs.contracts.FieldError(
                "",
                "header " + Headers.SCHEMA + " is " + schema + ", expected " + Schemas.JOB_EVENT));
      }
      JsonNode node =
          Schemas.validateIgnoringUnknownFields(
              Schemas.JOB_EVENT, header(r, Headers.VERSION), r.value());
      JobEvent e = Schemas.json().treeToValue(node, JobEvent.class);
      if (!GatewayVerticle.TENANT.matcher(e.tenant()).matches()) {
        field = "/tenant";
        reason = "not a tenant name: must match " + GatewayVerticle.TENANT.pattern();
      } else if (!GatewayVerticle.JOB_ID.matcher(e.jobId()).matches()) {
        field = "/jobId";
        reason = "not a job id: must match " + GatewayVerticle.JOB_ID.pattern();
      } else {
        return e;
      }
    } catch (InvalidEventException ex) {
      field = ex.error().field();
      reason = ex.error().reason();
    } catch (IOException | IllegalArgumentException ex) {
      field = "";
      reason = "cannot be read as a job event: " + ex.getClass().getSimpleName();
    }
    // Array indexes are not a kind of failure of their own: /result/imageBlobIds/7 counts as .../*.
    String kind = field.replaceAll("/[0-9]+(?=/|$)", "/*");
    LongAdder n = dropped.computeIfAbsent(kind, k -> new LongAdder());
    n.increment();
    if (n.sum() == 1) {
      LOG.warn(
          "dropped an invalid job event from {}-{}@{} (logged once per field, counted in"
              + " perfusion_gateway_events_dropped_total): {} {}",
          r.topic(),
          r.partition(),
          r.offset(),
          kind.isEmpty() ? "record" : kind,
          reason);
    }
    return null;
  }

  /** The one value of header {@code name}, null when absent, repeated or empty. */
  private static String header(ConsumerRecord<String, byte[]> r, String name) {
    Header found = null;
    for (Header h : r.headers().headers(name)) {
      if (found != null) {
        return null;
      }
      found = h;
    }
    return found == null || found.value() == null
        ? null
        : new String(found.value(), StandardCharsets.UTF_8);
  }

  /** Dropped events so far, by the field to blame ("" for the record as a whole). */
  Map<String, Long> droppedByField() {
    Map<String, Long> m = new java.util.TreeMap<>();
    dropped.forEach((k, v) -> m.put(k, v.sum()));
    return m;
  }

  /** The counters in the Prometheus text format. */
  String metrics() {
    StringBuilder sb =
        new StringBuilder(
            "# HELP perfusion_gateway_events_dropped_total Job events dropped because they do not"
                + " hold to their schema, by the field to blame.\n"
                + "# TYPE perfusion_gateway_events_dropped_total counter\n");
    droppedByField()
        .forEach(
            (k, v) ->
                sb.append("perfusion_gateway_events_dropped_total{field=\"")
                    .append(k.replace("\\", "\\\\").replace("\"", "\\\""))
                    .append("\"} ")
                    .append(v)
                    .append('\n'));
    return sb.toString();
  }
}
