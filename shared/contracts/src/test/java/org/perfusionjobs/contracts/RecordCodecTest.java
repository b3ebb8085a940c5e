package org.perfusionjobs.contracts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/**
 * The record codec: keys, headers and topics; the schemas' defaults; tolerant reading; nothing
 * written that its schema refuses.
 */
class RecordCodecTest {
  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static JsonNode schema(String name) throws Exception {
    return Schemas.json()
        .readTree(Schemas.class.getResourceAsStream("/schemas/" + name + ".v1.json"));
  }

  /**
   * Every {@code default} a schema declares (for the top level and one nested object) is what the
   * record fills in.
   */
  @Test
  void theRecordsFillInTheSchemasDefaults() throws Exception {
    GenerateRequestV1 g =
        RecordCodec.decode(
            Schemas.GENERATE_REQUEST,
            "1",
            b("{\"jobId\":\"j\",\"tenant\":\"t\",\"prompt\":\"x\"}"),
            GenerateRequestV1.class);
    assertDefaults(
        schema(Schemas.GENERATE_REQUEST).get("properties"), Schemas.json().valueToTree(g), 11);
    TrainRequest t =
        RecordCodec.decode(
            Schemas.TRAIN_REQUEST,
            "1",
            b(
                "{\"jobId\":\"j\",\"tenant\":\"t\",\"conceptName\":\"zwx\",\"superclass\":\"car\",\"images\":[{\"blobId\":\"x\"}]}"),
            TrainRequest.class);
    JsonNode trainSchema = schema(Schemas.TRAIN_REQUEST).get("properties");
    JsonNode mapped = Schemas.json().valueToTree(t);
    assertDefaults(trainSchema, mapped, 2);
    assertDefaults(trainSchema.get("options").get("properties"), mapped.get("options"), 6);
  }

  /**
   * train-request v2 = v1 + captions and two options: its defaults are what the record fills in, a
   * v1 header refuses the new fields, and a value goes out in the lowest version that carries it.
   */
  @Test
  void trainRequestVersion2CarriesCaptionsAndIsWrittenOnlyWhenNeeded() throws Exception {
    String base =
        "{\"jobId\":\"j\",\"tenant\":\"t\",\"conceptName\":\"zwx\",\"superclass\":\"car\","
            + "\"images\":[{\"blobId\":\"x\"},{\"blobId\":\"y\"}]";
    TrainRequest t =
        RecordCodec.decode(Schemas.TRAIN_REQUEST, "2", b(base + "}"), TrainRequest.class);
    JsonNode v2 =
        Schemas.json()
            .readTree(Schemas.class.getResourceAsStream("/schemas/train-request.v2.json"))
            .get("properties");
    JsonNode mapped = Schemas.json().valueToTree(t);
    assertDefaults(v2, mapped, 2);
    assertDefaults(v2.get("options").get("properties"), mapped.get("options"), 8);

    String captioned = base + ",\"captions\":[\"a {} on the left\",\"a large {}\"]}";
    TrainRequest c =
        RecordCodec.decode(Schemas.TRAIN_REQUEST, "2", b(captioned), TrainRequest.class);
    assertEquals(List.of("a {} on the left", "a large {}"), c.captions());
    InvalidEventException v1 =
        assertThrows(
            InvalidEventException.class,
            () -> RecordCodec.decode(Schemas.TRAIN_REQUEST, "1", b(captioned), TrainRequest.class));
    assertEquals("/captions", v1.error().field());
    InvalidEventException noWord =
        assertThrows(
            InvalidEventException.class,
            () ->
                RecordCodec.decode(
                    Schemas.TRAIN_REQUEST,
                    "2",
                    b(base + ",\"captions\":[\"a star\"]}"),
                    TrainRequest.class));
    assertEquals("/captions/0", noWord.error().field());

    assertEquals(
        1,
        RecordCodec.encode(Schemas.TRAIN_REQUEST, Schemas.json().readTree(base + "}")).version());
    assertEquals(
        2, RecordCodec.encode(Schemas.TRAIN_REQUEST, Schemas.json().readTree(captioned)).version());
    assertEquals(
        2,
        RecordCodec.encode(
                Schemas.TRAIN_REQUEST,
                Schemas.json().readTree(base + ",\"options\":{\"backgroundWeight\":0.5}}"))
            .version());
    RecordCodec.Outgoing plain = RecordCodec.encode(t);
    assertEquals(1, plain.version(), "a record that uses nothing of v2 goes out as v1");
    assertTrue(!plain.valueText().contains("captions") && !plain.valueText().contains("Weight"));
    assertEquals(2, RecordCodec.encode(c).version());
  }

  /**
   * train-request v3 = v2 + the option flip: a v2 header refuses it, its values are checked with
   * the field named, absent it follows randomFlip, it conflicts with randomFlip false, and only a
   * value that uses it goes out as v3.
   */
  @Test
  void trainRequestVersion3CarriesFlipAndIsWrittenOnlyWhenNeeded() throws Exception {
    String base =
        "{\"jobId\":\"j\",\"tenant\":\"t\",\"conceptName\":\"zwx\",\"superclass\":\"car\","
            + "\"images\":[{\"blobId\":\"x\"}]";
    String always = base + ",\"options\":{\"flip\":\"always\"}}";
    TrainRequest t = RecordCodec.decode(Schemas.TRAIN_REQUEST, "3", b(always), TrainRequest.class);
    assertEquals("always", t.options().flipMode());
    assertEquals(3, RecordCodec.encode(t).version());
    assertEquals("/options/flip", refusedTrain("2", b(always)).error().field());
    for (String bad : new String[] {"\"sometimes\"", "true", "\"\""}) {
      InvalidEventException e = refusedTrain("3", b(base + ",\"options\":{\"flip\":" + bad + "}}"));
      assertEquals("/options/flip", e.error().field(), bad);
    }
    JsonNode v3 =
        Schemas.json()
            .readTree(Schemas.class.getResourceAsStream("/schemas/train-request.v3.json"))
            .get("properties");
    TrainRequest plain =
        RecordCodec.decode(Schemas.TRAIN_REQUEST, "3", b(base + "}"), TrainRequest.class);
    JsonNode mapped = Schemas.json().valueToTree(plain);
    assertDefaults(v3, mapped, 2);
    assertDefaults(v3.get("options").get("properties"), mapped.get("options"), 8);
    assertEquals("auto", plain.options().flipMode(), "absent: randomFlip's default, auto");
    RecordCodec.Outgoing out = RecordCodec.encode(plain);
    assertEquals(1, out.version(), "a record without it goes out as v1");
    assertTrue(!out.valueText().contains("\"flip\""), out.valueText());

    TrainRequest never =
        RecordCodec.decode(
            Schemas.TRAIN_REQUEST,
            "1",
            b(base + ",\"options\":{\"randomFlip\":false}}"),
            TrainRequest.class);
    assertEquals("never", never.options().flipMode());
    TrainRequest conflict =
        RecordCodec.decode(
            Schemas.TRAIN_REQUEST,
            "3",
            b(base + ",\"options\":{\"randomFlip\":false,\"flip\":\"always\"}}"),
            TrainRequest.class);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> conflict.options().flipMode());
    assertEquals("flip 'always' conflicts with randomFlip false; give only flip", e.getMessage());
  }

  /**
   * train-request v4 = v3 + the option keyRate (the softly locked key): a v3 header refuses it, its
   * range 0..1 is checked with the field named, its default is 0 (the paper's locked key), and only
   * a value that uses it goes out as v4.
   */
  @Test
  void trainRequestVersion4CarriesKeyRateAndIsWrittenOnlyWhenNeeded() throws Exception {
    String base =
        "{\"jobId\":\"j\",\"tenant\":\"t\",\"conceptName\":\"zwx\",\"superclass\":\"car\","
            + "\"images\":[{\"blobId\":\"x\"}]";
    String soft = base + ",\"options\":{\"keyRate\":0.1}}";
    TrainRequest t = RecordCodec.decode(Schemas.TRAIN_REQUEST, "4", b(soft), TrainRequest.class);
    assertEquals(0.1, t.options().keyRate(), 0);
    assertEquals(4, RecordCodec.encode(t).version());
    assertEquals("/options/keyRate", refusedTrain("3", b(soft)).error().field());
    for (String bad : new String[] {"-0.1", "1.5", "\"0.1\"", "true"}) {
      InvalidEventException e =
          refusedTrain("4", b(base + ",\"options\":{\"keyRate\":" + bad + "}}"));
      assertEquals("/options/keyRate", e.error().field(), bad);
    }
    JsonNode v4 =
        Schemas.json()
            .readTree(Schemas.class.getResourceAsStream("/schemas/train-request.v4.json"))
            .get("properties");
    TrainRequest plain =
        RecordCodec.decode(Schemas.TRAIN_REQUEST, "4", b(base + "}"), TrainRequest.class);
    JsonNode mapped = Schemas.json().valueToTree(plain);
    assertDefaults(v4, mapped, 2);
    assertDefaults(v4.get("options").get("properties"), mapped.get("options"), 9);
    RecordCodec.Outgoing out = RecordCodec.encode(plain);
    assertEquals(1, out.version(), "a record at the locked key goes out as v1");
    assertTrue(!out.valueText().contains("keyRate"), out.valueText());
    String both = base + ",\"options\":{\"keyRate\":1,\"flip\":\"never\"}}";
    assertEquals(
        4, RecordCodec.encode(Schemas.TRAIN_REQUEST, Schemas.json().readTree(both)).version());
  }

  /** The error a train-request value gets from the schema of {@code version}. */
  private static InvalidEventException refusedTrain(String version, byte[] value) {
    return assertThrows(
        InvalidEventException.class,
        () -> RecordCodec.decode(Schemas.TRAIN_REQUEST, version, value, TrainRequest.class));
  }

  /**
   * generate-request v2 = v1 + a concept's superclassLayout: a v1 header refuses it, its range is
   * checked with the field named, and a value goes out in the lowest version that carries it.
   */
  @Test
  void generateRequestVersion2CarriesTheSuperclassLayoutAndIsWrittenOnlyWhenNeeded()
      throws Exception {
    String base = "{\"jobId\":\"j\",\"tenant\":\"t\",\"prompt\":\"a large zwx\",\"concepts\":";
    String plain = base + "[{\"conceptId\":\"c1\",\"beta\":0.5}]}";
    String laid =
        base + "[{\"conceptId\":\"c1\"},{\"conceptId\":\"c2\",\"superclassLayout\":0.15}]}";
    GenerateRequestV1 g =
        RecordCodec.decode(Schemas.GENERATE_REQUEST, "2", b(laid), GenerateRequestV1.class);
    assertEquals(null, g.concepts().get(0).superclassLayout());
    assertEquals(0.15, g.concepts().get(1).superclassLayout());
    InvalidEventException v1 = refusedGenerate("1", b(laid));
    assertEquals("/concepts/1/superclassLayout", v1.error().field(), v1.getMessage());
    for (String bad : new String[] {"1", "-0.1", "\"0.2\""}) {
      InvalidEventException e =
          refusedGenerate(
              "2", b(base + "[{\"conceptId\":\"c1\",\"superclassLayout\":" + bad + "}]}"));
      assertEquals("/concepts/0/superclassLayout", e.error().field(), bad);
    }
    assertEquals(
        1, RecordCodec.encode(Schemas.GENERATE_REQUEST, Schemas.json().readTree(plain)).version());
    assertEquals(
        2, RecordCodec.encode(Schemas.GENERATE_REQUEST, Schemas.json().readTree(laid)).version());
    GenerateRequestV1 p =
        RecordCodec.decode(Schemas.GENERATE_REQUEST, "2", b(plain), GenerateRequestV1.class);
    RecordCodec.Outgoing out = RecordCodec.encode(p);
    assertEquals(1, out.version(), "a record that uses nothing of v2 goes out as v1");
    assertTrue(!out.valueText().contains("superclassLayout"), out.valueText());
  }

  /**
   * generate-request v3 = v2 + regions and confineConcepts: a v2 header refuses them, a box edge
   * outside [0, 1] is refused with its field named, and only a value that uses them goes out as v3
   * (a record without them carries neither field, so it still goes out as v1).
   */
  @Test
  void generateRequestVersion3CarriesRegionsAndIsWrittenOnlyWhenNeeded() throws Exception {
    String base = "{\"jobId\":\"j\",\"tenant\":\"t\",\"prompt\":\"a zwx and a car\"";
    String regional =
        base
            + ",\"regions\":[{\"left\":0,\"top\":0.25,\"right\":0.5,\"bottom\":1,"
            + "\"prompt\":\"a zwx\"}],\"confineConcepts\":true}";
    GenerateRequestV1 g =
        RecordCodec.decode(Schemas.GENERATE_REQUEST, "3", b(regional), GenerateRequestV1.class);
    assertEquals(
        List.of(new GenerateRequestV1.RegionRef(0, 0.25, 0.5, 1, "a zwx")), g.regionsOrNone());
    assertTrue(g.confined());
    InvalidEventException v2 = refusedGenerate("2", b(regional));
    assertTrue(v2.error().field().startsWith("/"), v2.getMessage());
    InvalidEventException edge =
        refusedGenerate("3", b(regional.replace("\"bottom\":1", "\"bottom\":1.5")));
    assertEquals("/regions/0/bottom", edge.error().field(), edge.getMessage());
    String box = "{\"left\":0,\"top\":0,\"right\":1,\"bottom\":1,\"prompt\":\"a car\"}";
    InvalidEventException five =
        refusedGenerate(
            "3", b(base + ",\"regions\":[" + String.join(",", Collections.nCopies(5, box)) + "]}"));
    assertEquals("/regions", five.error().field(), "at most 4 regions: " + five.getMessage());
    RecordCodec.decode(
        Schemas.GENERATE_REQUEST,
        "3",
        b(base + ",\"regions\":[" + String.join(",", Collections.nCopies(4, box)) + "]}"),
        GenerateRequestV1.class);
    assertEquals(3, RecordCodec.encode(g).version());
    GenerateRequestV1 plain =
        RecordCodec.decode(Schemas.GENERATE_REQUEST, "3", b(base + "}"), GenerateRequestV1.class);
    assertEquals(List.of(), plain.regionsOrNone());
    assertTrue(!plain.confined());
    RecordCodec.Outgoing out = RecordCodec.encode(plain);
    assertEquals(1, out.version(), "a record that uses nothing of v2 or v3 goes out as v1");
    assertTrue(
        !out.valueText().contains("regions") && !out.valueText().contains("confine"),
        out.valueText());
  }

  /**
   * generate-request v4 = v3 + conceptGuidance: a v3 header refuses it, its range is checked with
   * the field named, absent means off, and only a value that uses it goes out as v4.
   */
  @Test
  void generateRequestVersion4CarriesConceptGuidanceAndIsWrittenOnlyWhenNeeded() throws Exception {
    String base = "{\"jobId\":\"j\",\"tenant\":\"t\",\"prompt\":\"a zwx\"";
    String guided = base + ",\"conceptGuidance\":3}";
    GenerateRequestV1 g =
        RecordCodec.decode(Schemas.GENERATE_REQUEST, "4", b(guided), GenerateRequestV1.class);
    assertEquals(3.0, g.conceptGuidance());
    assertTrue(g.conceptGuided());
    assertEquals("/conceptGuidance", refusedGenerate("3", b(guided)).error().field());
    for (String bad : new String[] {"-1", "31", "\"3\""}) {
      InvalidEventException e = refusedGenerate("4", b(base + ",\"conceptGuidance\":" + bad + "}"));
      assertEquals("/conceptGuidance", e.error().field(), bad);
    }
    assertEquals(4, RecordCodec.encode(g).version());
    GenerateRequestV1 plain =
        RecordCodec.decode(Schemas.GENERATE_REQUEST, "4", b(base + "}"), GenerateRequestV1.class);
    assertTrue(!plain.conceptGuided());
    RecordCodec.Outgoing out = RecordCodec.encode(plain);
    assertEquals(1, out.version(), "a record without it goes out as v1");
    assertTrue(!out.valueText().contains("conceptGuidance"), out.valueText());
  }

  /** The error a generate-request value gets from the schema of {@code version}. */
  private static InvalidEventException refusedGenerate(String version, byte[] value) {
    return assertThrows(
        InvalidEventException.class,
        () ->
            RecordCodec.decode(Schemas.GENERATE_REQUEST, version, value, GenerateRequestV1.class));
  }

  private static void assertDefaults(JsonNode properties, JsonNode mapped, int expected) {
    int seen = 0;
    for (Iterator<Map.Entry<String, JsonNode>> it = properties.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> p = it.next();
      JsonNode declared = p.getValue().get("default");
      if (declared == null) {
        continue;
      }
      seen++;
      JsonNode actual = mapped.get(p.getKey());
      if (declared.isNumber()) {
        assertEquals(declared.asDouble(), actual.asDouble(), 0, p.getKey());
      } else if (declared.isObject()) {
        assertTrue(actual.isObject(), p.getKey() + ": " + actual);
      } else {
        assertEquals(declared, actual, p.getKey());
      }
    }
    assertEquals(expected, seen, "defaults declared");
  }

  @Test
  void aRecordGoesOutWithItsKeyHeadersAndTopic() {
    Topics topics = new Topics("x.");
    RecordCodec.Outgoing cancel = RecordCodec.encode(new CancelRequestV1("gen-1", "acme", "stop"));
    assertEquals("gen-1", cancel.key());
    assertEquals(
        "{\"jobId\":\"gen-1\",\"tenant\":\"acme\",\"reason\":\"stop\"}", cancel.valueText());
    ProducerRecord<String, byte[]> r = cancel.toProducerRecord(topics);
    assertEquals("x.jobs.cancel", r.topic());
    assertEquals(
        "cancel-request",
        new String(r.headers().lastHeader(Headers.SCHEMA).value(), StandardCharsets.UTF_8));
    assertEquals(
        "1", new String(r.headers().lastHeader(Headers.VERSION).value(), StandardCharsets.UTF_8));
    assertEquals(List.of(Headers.SCHEMA, Headers.VERSION), List.copyOf(cancel.headers().keySet()));

    RecordCodec.Outgoing concept =
        RecordCodec.encode(
            new ConceptRegistered(
                "train-1", "acme", "zwx", "car", "m", "h", 0.7, 0.15, "now", "AAAA"));
    assertEquals("acme/train-1", concept.key(), "registry entries are keyed by tenant and concept");
    assertEquals("x.concepts", concept.toProducerRecord(topics).topic());
    RecordCodec.Outgoing event =
        RecordCodec.encode(
            JobEvent.queued(new JobEvent.Job("gen-1", "acme", "generate", "gateway"), 0));
    assertEquals("x.jobs.events", event.toProducerRecord(topics).topic());
    assertEquals("gen-1", event.key());
  }

  @Test
  void nothingIsWrittenThatItsSchemaRefuses() throws Exception {
    IllegalArgumentException bug =
        assertThrows(
            IllegalArgumentException.class,
            () -> RecordCodec.encode(new CancelRequestV1("gen 1", "acme", null)));
    assertTrue(bug.getMessage().contains("/jobId"), bug.getMessage());
    InvalidEventException extra =
        assertThrows(
            InvalidEventException.class,
            () ->
                RecordCodec.encode(
                    Schemas.GENERATE_REQUEST,
                    Schemas.json()
                        .readTree(
                            "{\"jobId\":\"j\",\"tenant\":\"t\",\"prompt\":\"x\",\"colour\":1}")));
    assertEquals("/colour", extra.error().field());
    InvalidEventException version =
        assertThrows(
            InvalidEventException.class,
            () ->
                RecordCodec.encode(
                    Schemas.GENERATE_REQUEST,
                    5,
                    Schemas.json()
                        .readTree("{\"jobId\":\"j\",\"tenant\":\"t\",\"prompt\":\"x\"}")));
    assertTrue(
        version.getMessage().contains("unknown schema version generate-request v5"),
        version.getMessage());
    assertThrows(IllegalArgumentException.class, () -> RecordCodec.encode("a string"));
  }

  @Test
  void aForwardedValueKeepsItsBytesAndGetsItsKeyFromTheJobId() throws Exception {
    String json =
        "{\"jobId\":\"example-gen-1\",\"tenant\":\"demo\",\"prompt\":\"a toy car\",\"steps\":20}";
    RecordCodec.Outgoing out =
        RecordCodec.encode(Schemas.GENERATE_REQUEST, Schemas.json().readTree(json));
    assertEquals(json, out.valueText(), "no defaults are added to a forwarded request");
    assertEquals("example-gen-1", out.key());
  }

  @Test
  void eventsAreReadTolerantlyAndRequestsStrictly() throws Exception {
    JobEvent e =
        RecordCodec.read(
            b(
                "{\"jobId\":\"j\",\"tenant\":\"t\",\"seq\":5,\"kind\":\"state\",\"state\":\"running\",\"jobType\":\"generate\","
                    + "\"time\":\"2026-12-05T00:00:00Z\",\"worker\":\"w\",\"fieldFromTheFuture\":{\"a\":1}}"),
            JobEvent.class);
    assertEquals(5, e.seq());
    assertEquals("running", e.state());
    InvalidEventException strict =
        assertThrows(
            InvalidEventException.class,
            () ->
                RecordCodec.decode(
                    Schemas.CANCEL_REQUEST,
                    "1",
                    b("{\"jobId\":\"j\",\"tenant\":\"t\",\"extra\":1}"),
                    CancelRequestV1.class));
    assertEquals("/extra", strict.error().field());
    assertThrows(
        InvalidEventException.class,
        () ->
            RecordCodec.decode(
                Schemas.CANCEL_REQUEST,
                "2",
                b("{\"jobId\":\"j\",\"tenant\":\"t\"}"),
                CancelRequestV1.class));
  }

  @Test
  void everySchemaHasItsTopicAndVersion() {
    Topics t = Topics.defaults();
    assertEquals(t.generate(), t.forSchema(Schemas.GENERATE_REQUEST));
    assertEquals(t.train(), t.forSchema(Schemas.TRAIN_REQUEST));
    assertEquals(t.cancel(), t.forSchema(Schemas.CANCEL_REQUEST));
    assertEquals(t.events(), t.forSchema(Schemas.JOB_EVENT));
    assertEquals(t.concepts(), t.forSchema(Schemas.CONCEPT_REGISTERED));
    assertThrows(IllegalArgumentException.class, () -> t.forSchema("nope"));
    for (String s :
        List.of(
            Schemas.GENERATE_REQUEST,
            Schemas.TRAIN_REQUEST,
            Schemas.CANCEL_REQUEST,
            Schemas.JOB_EVENT,
            Schemas.CONCEPT_REGISTERED)) {
      assertTrue(
          Schemas.knows(s, RecordCodec.version(s)),
          s + " is written in a version its readers know");
    }
  }
}
