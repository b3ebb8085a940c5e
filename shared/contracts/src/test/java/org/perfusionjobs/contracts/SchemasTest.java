package org.perfusionjobs.contracts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class SchemasTest {
  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void everySchemaAcceptsItsOwnExamples() throws Exception {
    for (String name :
        new String[] {
          Schemas.GENERATE_REQUEST,
          Schemas.TRAIN_REQUEST,
          Schemas.CANCEL_REQUEST,
          Schemas.JOB_EVENT,
          Schemas.CONCEPT_REGISTERED
        }) {
      int versions = 0;
      for (int v = 1; Schemas.knows(name, v); v++) {
        versions++;
        String file = name + ".v" + v + ".json";
        JsonNode schema =
            Schemas.json().readTree(Schemas.class.getResourceAsStream("/schemas/" + file));
        assertTrue(
            schema.get("description").asText().contains("perfusion-schema-version=" + v) || v == 1,
            file + " names its own version header");
        assertTrue(schema.get("examples").size() > 0, file + " has examples");
        for (JsonNode ex : schema.get("examples")) {
          assertEquals(List.of(), Schemas.errors(name, v, ex), file + " example " + ex);
        }
        // Every property is described in prose.
        schema
            .get("properties")
            .fields()
            .forEachRemaining(
                f ->
                    assertTrue(
                        f.getValue().has("description"),
                        file + ": " + f.getKey() + " needs a description"));
      }
      assertTrue(versions >= 1, name);
    }
  }

  @Test
  void validRequestParsesWithDefaults() throws Exception {
    JsonNode n =
        Schemas.validate(
            Schemas.GENERATE_REQUEST,
            "1",
            b("{\"jobId\":\"j1\",\"tenant\":\"t\",\"prompt\":\"a car\"}"));
    GenerateRequestV1 r = Schemas.json().treeToValue(n, GenerateRequestV1.class);
    assertEquals(25, r.steps());
    assertEquals("ddim", r.sampler());
  }

  @Test
  void errorsNameTheFieldAndTheReason() {
    assertError("{\"jobId\":\"j1\",\"tenant\":\"t\"}", "/prompt", "required");
    assertError(
        "{\"jobId\":\"j1\",\"tenant\":\"t\",\"prompt\":\"x\",\"steps\":\"ten\"}",
        "/steps",
        "integer");
    assertError(
        "{\"jobId\":\"j1\",\"tenant\":\"t\",\"prompt\":\"x\",\"steps\":5000}", "/steps", "200");
    assertError("{\"jobId\":\"j1\",\"tenant\":\"t\",\"prompt\":\"x\",\"color\":1}", "/color", "");
    assertError("{\"jobId\":\"j 1\",\"tenant\":\"t\",\"prompt\":\"x\"}", "/jobId", "");
    assertError("{\"jobId\":", "", "malformed JSON");
  }

  @Test
  void unknownVersionMissingHeaderAndOversizedPayloadAreRejected() {
    InvalidEventException v =
        assertThrows(
            InvalidEventException.class,
            () -> Schemas.validate(Schemas.GENERATE_REQUEST, "7", b("{}")));
    assertTrue(
        v.getMessage().contains("unknown schema version generate-request v7"), v.getMessage());
    InvalidEventException h =
        assertThrows(
            InvalidEventException.class,
            () -> Schemas.validate(Schemas.GENERATE_REQUEST, null, b("{}")));
    assertTrue(h.getMessage().contains(Headers.VERSION), h.getMessage());
    byte[] big = new byte[Schemas.MAX_REQUEST_BYTES + 1];
    InvalidEventException s =
        assertThrows(
            InvalidEventException.class, () -> Schemas.validate(Schemas.TRAIN_REQUEST, "1", big));
    assertTrue(s.getMessage().contains("exceeds the limit"), s.getMessage());
  }

  @Test
  void versionHeaderIsReadStrictly() throws Exception {
    for (String odd :
        new String[] {" 1 ", "01", "+1", "1.0", "", "0", "-1", "1\n", "99999999999"}) {
      InvalidEventException e =
          assertThrows(
              InvalidEventException.class,
              () -> Schemas.validate(Schemas.GENERATE_REQUEST, odd, b("{}")),
              odd);
      assertTrue(e.getMessage().contains("is not a version"), odd + ": " + e.getMessage());
    }
    assertTrue(
        Schemas.validate(
                Schemas.GENERATE_REQUEST,
                "1",
                b("{\"jobId\":\"j1\",\"tenant\":\"t\",\"prompt\":\"x\"}"))
            .has("prompt"));
  }

  @Test
  void trainImagesNeedExactlyOneSource() {
    assertError(
        "{\"jobId\":\"j\",\"tenant\":\"t\",\"conceptName\":\"zwx\",\"superclass\":\"car\",\"images\":[{\"base64\":\"AA\",\"url\":\"http://x\"}]}",
        "/images/0",
        "");
    assertError(
        "{\"jobId\":\"j\",\"tenant\":\"t\",\"conceptName\":\"zwx\",\"superclass\":\"car\",\"images\":[]}",
        "/images",
        "");
  }

  private static void assertError(String json, String field, String reasonPart) {
    String schema = json.contains("conceptName") ? Schemas.TRAIN_REQUEST : Schemas.GENERATE_REQUEST;
    InvalidEventException e =
        assertThrows(InvalidEventException.class, () -> Schemas.validate(schema, "1", b(json)));
    assertEquals(field, e.error().field(), e.getMessage());
    assertTrue(e.error().reason().contains(reasonPart), e.getMessage());
  }
}
