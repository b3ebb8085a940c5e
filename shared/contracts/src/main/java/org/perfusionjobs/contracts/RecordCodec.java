package org.perfusionjobs.contracts;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Writes and reads the versioned records of docs/events.md, so that the schema name, the version
 * header, the record key and the JSON mapping live in one place.
 *
 * <ul>
 *   <li><b>Writing</b>: every producer (worker, gateway, the CLI's {@code produce}, {@code demo}
 *       and {@code bench-jobs}, the tests' producers) turns a record, or a JSON request it
 *       forwards, into an {@link Outgoing}: key, headers {@code perfusion-schema} and {@code
 *       perfusion-schema-version}, value. Nothing is written that its own schema refuses (the size
 *       limit of requests, {@link Schemas#MAX_REQUEST_BYTES}, is the gateway's and the worker's).
 *   <li><b>Versions</b>: each schema is written in one version ({@link #version}); readers accept
 *       every version {@link Schemas} knows.
 *   <li><b>Reading requests</b> ({@link #decode}): the value is held to the schema of the version
 *       its header names, then mapped; the record types fill in the schema's defaults for absent
 *       fields ({@code RecordCodecTest} checks them against the schemas' {@code default}s).
 *   <li><b>Reading our own output</b> ({@link #read}: events, registry entries): tolerant; fields
 *       this code does not know (a later version's) are ignored.
 * </ul>
 */
public final class RecordCodec {
  /**
   * The version each schema is written in: the lowest that carries every record, so that consumers
   * that know only it keep working; {@link #versionFor} raises it for a value that needs more.
   */
  private static final Map<String, Integer> WRITTEN =
      Map.of(
          Schemas.GENERATE_REQUEST,
          1,
          Schemas.TRAIN_REQUEST,
          1,
          Schemas.CANCEL_REQUEST,
          1,
          Schemas.JOB_EVENT,
          1,
          Schemas.CONCEPT_REGISTERED,
          1);

  private RecordCodec() {}

  /**
   * One record ready to send: key, schema name and version (the two headers) and the JSON value.
   *
   * @param key the job id; {@code <tenant>/<conceptId>} for a registry entry
   */
  public record Outgoing(String schema, int version, String key, byte[] value) {
    /** The headers, in the order they are written: schema name, then version. */
    public Map<String, String> headers() {
      Map<String, String> h = new LinkedHashMap<>();
      h.put(Headers.SCHEMA, schema);
      h.put(Headers.VERSION, Integer.toString(version));
      return h;
    }

    /** This record as a Kafka producer record, on the topic of its schema. */
    public ProducerRecord<String, byte[]> toProducerRecord(Topics topics) {
      ProducerRecord<String, byte[]> r = new ProducerRecord<>(topics.forSchema(schema), key, value);
      headers().forEach((name, v) -> r.headers().add(name, v.getBytes(StandardCharsets.UTF_8)));
      return r;
    }

    /** The value as text (for logs and tests). */
    public String valueText() {
      return new String(value, StandardCharsets.UTF_8);
    }
  }

  /** The version {@code schema} is written in. */
  public static int version(String schema) {
    Integer v = WRITTEN.get(schema);
    if (v == null) {
      throw new IllegalArgumentException(
          "unknown schema '" + schema + "'; known: " + WRITTEN.keySet());
    }
    return v;
  }

  /**
   * The version a value of {@code schema} is written in: a train request that uses a field of
   * version 2 (captions, options.embeddingNormCap or options.backgroundWeight) goes out as version
   * 2, one with options.flip as version 3, one with options.keyRate as version 4, and a generate
   * request with a concept's superclassLayout go out as version 2, a generate request with regions
   * or confineConcepts as version 3, one with conceptGuidance as version 4, any other value in its
   * schema's written version.
   */
  public static int versionFor(String schema, JsonNode value) {
    if (Schemas.GENERATE_REQUEST.equals(schema)) {
      if (value.has("conceptGuidance")) {
        return 4;
      }
      if (value.has("regions") || value.has("confineConcepts")) {
        return 3;
      }
      for (JsonNode c : value.path("concepts")) {
        if (c.hasNonNull("superclassLayout")) {
          return 2;
        }
      }
    }
    if (Schemas.TRAIN_REQUEST.equals(schema)) {
      JsonNode o = value.path("options");
      if (o.hasNonNull("keyRate")) {
        return 4;
      }
      if (o.hasNonNull("flip")) {
        return 3;
      }
      boolean v2 =
          value.has("captions")
              || o.hasNonNull("embeddingNormCap")
              || o.hasNonNull("backgroundWeight");
      if (v2) {
        return 2;
      }
    }
    return version(schema);
  }

  /** The schema of a record type of this package. */
  public static String schemaOf(Object record) {
    if (record instanceof GenerateRequestV1) {
      return Schemas.GENERATE_REQUEST;
    } else if (record instanceof TrainRequest) {
      return Schemas.TRAIN_REQUEST;
    } else if (record instanceof CancelRequestV1) {
      return Schemas.CANCEL_REQUEST;
    } else if (record instanceof JobEvent) {
      return Schemas.JOB_EVENT;
    } else if (record instanceof ConceptRegistered) {
      return Schemas.CONCEPT_REGISTERED;
    }
    throw new IllegalArgumentException(
        (record == null ? "null" : record.getClass().getName())
            + " is not a record of the contracts");
  }

  /**
   * A record of this package, in the version its schema is written in.
   *
   * @throws IllegalArgumentException if the record breaks its schema (a bug of the producer)
   */
  public static Outgoing encode(Object record) {
    String schema = schemaOf(record);
    JsonNode value = Schemas.json().valueToTree(record);
    if (record instanceof TrainRequest t) {
      // The record fills in every default; what was left at it is dropped, so a request that uses
      // nothing of version 2 still goes out as version 1.
      ObjectNode o = (ObjectNode) value;
      if (t.captions().isEmpty()) {
        o.remove("captions");
      }
      ObjectNode opts = (ObjectNode) o.path("options");
      if (t.options().embeddingNormCap() == 0) {
        opts.remove("embeddingNormCap");
      }
      if (t.options().backgroundWeight() == 0) {
        opts.remove("backgroundWeight");
      }
      if (t.options().keyRate() == 0) {
        opts.remove("keyRate");
      }
    }
    try {
      return encode(schema, versionFor(schema, value), value);
    } catch (InvalidEventException e) {
      throw new IllegalArgumentException(
          "a " + schema + " record breaks its own schema: " + e.getMessage() + " in " + value, e);
    }
  }

  /**
   * A JSON value forwarded as it is (e.g. the body a client sent), in the version its schema is
   * written in.
   */
  public static Outgoing encode(String schema, JsonNode value) throws InvalidEventException {
    return encode(schema, versionFor(schema, value), value);
  }

  /**
   * A JSON value forwarded as it is, in a version its schema has.
   *
   * @throws InvalidEventException naming the field, if the value breaks that version's schema
   */
  public static Outgoing encode(String schema, int version, JsonNode value)
      throws InvalidEventException {
    if (!Schemas.knows(schema, version)) {
      throw new InvalidEventException(
          new FieldError("", "unknown schema version " + schema + " v" + version));
    }
    List<FieldError> errors = Schemas.errors(schema, version, value);
    if (!errors.isEmpty()) {
      throw new InvalidEventException(errors.get(0));
    }
    byte[] bytes;
    try {
      bytes = Schemas.json().writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    return new Outgoing(schema, version, key(schema, value), bytes);
  }

  /** The record key of a value: its jobId, or {@code <tenant>/<conceptId>} for a registry entry. */
  static String key(String schema, JsonNode value) {
    if (Schemas.CONCEPT_REGISTERED.equals(schema)) {
      return TenantScope.of(value.path("tenant").asText(), value.path("conceptId").asText());
    }
    return value.path("jobId").asText();
  }

  /**
   * A request as its consumer reads it: held to the schema of the version its header names, then
   * mapped to {@code type} with the schema's defaults filled in.
   *
   * @param versionHeader the record's {@code perfusion-schema-version} header, or null
   * @throws InvalidEventException naming the field and the reason
   */
  public static <T> T decode(String schema, String versionHeader, byte[] value, Class<T> type)
      throws InvalidEventException {
    JsonNode node = Schemas.validate(schema, versionHeader, value);
    return map(node, type);
  }

  /** A validated request's JSON as its record, with the schema's defaults filled in. */
  public static <T> T map(JsonNode validated, Class<T> type) throws InvalidEventException {
    try {
      return Schemas.json().treeToValue(validated, type);
    } catch (JsonProcessingException | IllegalArgumentException e) {
      throw new InvalidEventException(
          new FieldError(
              "", "the record does not map to " + type.getSimpleName() + ": " + e.getMessage()));
    }
  }

  /**
   * A record of our own output topics (job events, registry entries), ignoring fields this version
   * does not know.
   */
  public static <T> T read(byte[] value, Class<T> type) throws IOException {
    return Schemas.json().readValue(value, type);
  }
}
