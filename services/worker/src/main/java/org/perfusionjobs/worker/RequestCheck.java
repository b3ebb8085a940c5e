package org.perfusionjobs.worker;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.perfusionjobs.contracts.FieldError;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.InvalidEventException;
import org.perfusionjobs.contracts.Schemas;

/**
 * The validate step: turns any record a Kafka client can send into either a valid request or a
 * rejection that names the field and still says which tenant and job it belongs to. Never throws:
 * keys and headers arrive as raw bytes (a null value, a duplicate, bytes that are not UTF-8 are all
 * legal in Kafka) and each odd case is a named reason.
 */
final class RequestCheck {
  static final String UNKNOWN = "unknown";
  private static final Pattern JOB_ID = Pattern.compile("[A-Za-z0-9._-]{1,100}");
  private static final Pattern TENANT = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private RequestCheck() {}

  sealed interface Outcome {
    String jobId();

    String tenant();

    String jobType();
  }

  record Valid(String jobId, String tenant, String jobType, JsonNode node) implements Outcome {}

  /**
   * A record that can never run; jobId and tenant are the best that could be read ({@code unknown}
   * otherwise).
   */
  record Rejected(String jobId, String tenant, String jobType, FieldError error)
      implements Outcome {}

  /**
   * Whose a record is, as far as it can be read: never throws, {@code unknown} for what cannot be
   * read.
   */
  record Identity(String jobId, String tenant, String jobType) {}

  /**
   * The job id (the key, else the value's jobId), tenant (the value's) and job type (the schema
   * header, else whether the value looks like a train request) of any record.
   */
  static Identity identify(ConsumerRecord<byte[], byte[]> r) {
    JsonNode loose = looseJson(r.value());
    String key = keyText(r);
    String jobId =
        key != null && JOB_ID.matcher(key).matches() ? key : text(loose, "jobId", JOB_ID);
    String schema = null;
    try {
      schema = header(r, Headers.SCHEMA);
    } catch (InvalidEventException e) {
      // guessed below
    }
    boolean train =
        Schemas.TRAIN_REQUEST.equals(schema)
            || schema == null && loose != null && loose.has("conceptName");
    return new Identity(jobId, text(loose, "tenant", TENANT), train ? "train" : "generate");
  }

  private static String keyText(ConsumerRecord<byte[], byte[]> r) {
    try {
      return r.key() == null ? null : utf8(r.key());
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  static Outcome check(ConsumerRecord<byte[], byte[]> r, boolean train) {
    String jobType = train ? "train" : "generate";
    String schema = train ? Schemas.TRAIN_REQUEST : Schemas.GENERATE_REQUEST;
    Identity id = identify(r);
    String key = keyText(r);
    String jobId = id.jobId();
    String tenant = id.tenant();
    try {
      if (r.key() == null) {
        throw invalid("", "record key is missing; it must be the jobId");
      }
      if (key == null) {
        throw invalid("", "record key is not UTF-8 text; it must be the jobId");
      }
      if (key.isEmpty()) {
        throw invalid("", "record key is empty; it must be the jobId");
      }
      String schemaHeader = header(r, Headers.SCHEMA);
      if (schemaHeader == null) {
        throw invalid(
            "",
            "header " + Headers.SCHEMA + " is missing; topic " + r.topic() + " takes " + schema);
      }
      if (!schemaHeader.equals(schema)) {
        throw invalid(
            "",
            "header "
                + Headers.SCHEMA
                + " is '"
                + schemaHeader
                + "' but topic "
                + r.topic()
                + " takes "
                + schema);
      }
      JsonNode node = Schemas.validate(schema, header(r, Headers.VERSION), r.value());
      String bodyId = node.get("jobId").asText();
      if (!key.equals(bodyId)) {
        throw invalid("/jobId", "'" + bodyId + "' differs from the record key '" + key + "'");
      }
      return new Valid(bodyId, node.get("tenant").asText(), jobType, node);
    } catch (InvalidEventException e) {
      return new Rejected(jobId, tenant, jobType, e.error());
    }
  }

  /**
   * The one value of a header: null if absent; rejected if it appears more than once, has a null
   * value, or is not UTF-8 (so "last one wins" can never pick a different version than a reader
   * that takes the first).
   */
  static String header(ConsumerRecord<byte[], byte[]> r, String name) throws InvalidEventException {
    Header found = null;
    int count = 0;
    for (Header h : r.headers().headers(name)) {
      found = h;
      count++;
    }
    if (count == 0) {
      return null;
    }
    if (count > 1) {
      throw invalid("", "header " + name + " appears " + count + " times; it must appear once");
    }
    if (found.value() == null) {
      throw invalid("", "header " + name + " has no value (null)");
    }
    try {
      return utf8(found.value());
    } catch (CharacterCodingException e) {
      throw invalid("", "header " + name + " is not UTF-8 text");
    }
  }

  private static String utf8(byte[] bytes) throws CharacterCodingException {
    return StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(bytes))
        .toString();
  }

  private static InvalidEventException invalid(String field, String reason) {
    return new InvalidEventException(new FieldError(field, reason));
  }

  /**
   * The value as JSON if it is small enough and parses at all; only used to name the job and tenant
   * of a rejection.
   */
  private static JsonNode looseJson(byte[] value) {
    if (value == null || value.length == 0 || value.length > Schemas.MAX_REQUEST_BYTES) {
      return null;
    }
    try {
      return Schemas.json().readTree(value);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static String text(JsonNode node, String field, Pattern valid) {
    if (node == null || !node.isObject() || !node.path(field).isTextual()) {
      return UNKNOWN;
    }
    String v = node.get(field).asText();
    return valid.matcher(v).matches() ? v : UNKNOWN;
  }
}
