package org.perfusionjobs.contracts;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The JSON Schemas under {@code schemas/<name>.v<version>.json} and validation against them. A
 * released schema never changes; a change is a new version beside it, and consumers accept every
 * version they know.
 */
public final class Schemas {
  public static final String GENERATE_REQUEST = "generate-request";
  public static final String TRAIN_REQUEST = "train-request";
  public static final String CANCEL_REQUEST = "cancel-request";
  public static final String JOB_EVENT = "job-event";
  public static final String CONCEPT_REGISTERED = "concept-registered";

  /** Largest request accepted, in bytes (below Kafka's default 1 MB message limit). */
  public static final int MAX_REQUEST_BYTES = 900_000;

  /**
   * Reads our records while ignoring fields it does not know (docs/events.md: consumers must ignore
   * unknown fields). Requests are still held to their schema, which forbids extra fields, by {@link
   * #validate} before they are mapped.
   */
  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  private static final Map<String, JsonSchema> CACHE = new ConcurrentHashMap<>();
  private static final Map<String, Set<Integer>> KNOWN =
      Map.of(
          GENERATE_REQUEST,
          Set.of(1, 2, 3, 4),
          TRAIN_REQUEST,
          Set.of(1, 2, 3, 4),
          CANCEL_REQUEST,
          Set.of(1),
          JOB_EVENT,
          Set.of(1),
          CONCEPT_REGISTERED,
          Set.of(1));

  private Schemas() {}

  public static ObjectMapper json() {
    return JSON;
  }

  /** Whether consumers accept {@code schema} in {@code version}. */
  public static boolean knows(String schema, int version) {
    return KNOWN.getOrDefault(schema, Set.of()).contains(version);
  }

  /**
   * Parses and validates a record value.
   *
   * @param versionHeader the record's {@code perfusion-schema-version} header value, or null
   * @return the parsed JSON
   * @throws InvalidEventException naming the field and the reason (first error by field order)
   */
  public static JsonNode validate(String schema, String versionHeader, byte[] payload)
      throws InvalidEventException {
    return validate(schema, versionHeader, payload, false);
  }

  /**
   * As {@link #validate}, for readers of events: fields the schema does not know are ignored
   * (docs/events.md: consumers must ignore unknown fields, so that a producer may add one), every
   * other rule of the schema holds (types, required fields, enums, minimums).
   */
  public static JsonNode validateIgnoringUnknownFields(
      String schema, String versionHeader, byte[] payload) throws InvalidEventException {
    return validate(schema, versionHeader, payload, true);
  }

  private static JsonNode validate(
      String schema, String versionHeader, byte[] payload, boolean ignoreUnknownFields)
      throws InvalidEventException {
    if (payload == null || payload.length == 0) {
      throw new InvalidEventException(new FieldError("", "empty record value"));
    }
    if (payload.length > MAX_REQUEST_BYTES) {
      throw new InvalidEventException(
          new FieldError(
              "",
              "payload of "
                  + payload.length
                  + " bytes exceeds the limit of "
                  + MAX_REQUEST_BYTES
                  + " bytes; upload large images as blobs"));
    }
    if (versionHeader == null) {
      throw new InvalidEventException(
          new FieldError("", "header " + Headers.VERSION + " is missing"));
    }
    int version = parseVersion(versionHeader);
    if (!knows(schema, version)) {
      throw new InvalidEventException(
          new FieldError(
              "",
              "unknown schema version "
                  + schema
                  + " v"
                  + version
                  + "; known: "
                  + KNOWN.getOrDefault(schema, Set.of())));
    }
    JsonNode node;
    try {
      node = JSON.readTree(new String(payload, StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      throw new InvalidEventException(
          new FieldError("", "malformed JSON: " + e.getOriginalMessage()));
    }
    if (node == null || node.isMissingNode()) {
      throw new InvalidEventException(new FieldError("", "malformed JSON: no value"));
    }
    List<FieldError> errors =
        ignoreUnknownFields
            ? knownFieldErrors(schema, version, node)
            : errors(schema, version, node);
    if (!errors.isEmpty()) {
      throw new InvalidEventException(errors.get(0));
    }
    return node;
  }

  /**
   * Reads a version header strictly: a decimal integer without sign, blanks or leading zeros
   * ({@code 1}, {@code 12}). Anything else ({@code " 1 "}, {@code 01}, {@code +1}) is rejected, so
   * two producers can never mean the same version with different bytes.
   */
  public static int parseVersion(String versionHeader) throws InvalidEventException {
    if (versionHeader == null) {
      throw new InvalidEventException(
          new FieldError("", "header " + Headers.VERSION + " is missing"));
    }
    if (!versionHeader.matches("[1-9][0-9]{0,8}")) {
      throw new InvalidEventException(
          new FieldError(
              "",
              "header "
                  + Headers.VERSION
                  + " '"
                  + versionHeader
                  + "' is not a version: a decimal integer without sign, blanks or leading zeros"));
    }
    return Integer.parseInt(versionHeader);
  }

  /** All schema violations of a JSON value, sorted by field. */
  public static List<FieldError> errors(String schema, int version, JsonNode node) {
    Set<ValidationMessage> messages = schema(schema, version).validate(node);
    return messages.stream()
        .map(m -> new FieldError(pointer(m), m.getMessage().replaceFirst("^\\$[^:]*: ", "")))
        .sorted(Comparator.comparing(FieldError::field).thenComparing(FieldError::reason))
        .toList();
  }

  /** The schema violations of a JSON value other than fields the schema does not know. */
  public static List<FieldError> knownFieldErrors(String schema, int version, JsonNode node) {
    return schema(schema, version).validate(node).stream()
        .filter(m -> !"additionalProperties".equals(m.getType()))
        .map(m -> new FieldError(pointer(m), m.getMessage().replaceFirst("^\\$[^:]*: ", "")))
        .sorted(Comparator.comparing(FieldError::field).thenComparing(FieldError::reason))
        .toList();
  }

  private static String pointer(ValidationMessage m) {
    String path = m.getInstanceLocation().toString(); // $.a.b[0]
    String p = path.replaceFirst("^\\$", "").replaceAll("\\[(\\d+)\\]", "/$1").replace('.', '/');
    String property = m.getProperty();
    if (property != null
        && ("required".equals(m.getType()) || "additionalProperties".equals(m.getType()))) {
      p = p + "/" + property;
    }
    return p;
  }

  static JsonSchema schema(String name, int version) {
    return CACHE.computeIfAbsent(
        name + ".v" + version,
        key -> {
          String resource = "/schemas/" + key + ".json";
          try (InputStream in = Schemas.class.getResourceAsStream(resource)) {
            if (in == null) {
              throw new IllegalStateException("schema resource " + resource + " is missing");
            }
            return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(in);
          } catch (IOException e) {
            throw new IllegalStateException("cannot read " + resource, e);
          }
        });
  }
}
