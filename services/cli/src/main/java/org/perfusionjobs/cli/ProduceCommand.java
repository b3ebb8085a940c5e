package org.perfusionjobs.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.perfusionjobs.contracts.InvalidEventException;
import org.perfusionjobs.contracts.KafkaConnection;
import org.perfusionjobs.contracts.KafkaSecurity;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion produce}: sends example events from a JSON file the way an upstream app would.
 * The file holds an array of {@code {"schema": "generate-request", "version": 1, "value": {...}}};
 * the topic follows from the schema, the record key is the value's jobId ({@link RecordCodec}). A
 * value its schema refuses is not sent: the error names the field.
 */
@Command(
    name = "produce",
    mixinStandardHelpOptions = true,
    description = "Produce example request events from a JSON file.")
final class ProduceCommand implements Callable<Integer> {
  /** What an upstream app produces; events and registry entries are the services' own. */
  static final List<String> REQUESTS =
      List.of(Schemas.GENERATE_REQUEST, Schemas.TRAIN_REQUEST, Schemas.CANCEL_REQUEST);

  @Spec CommandSpec spec;

  @Option(
      names = "--kafka",
      required = true,
      description = "bootstrap servers, e.g. 127.0.0.1:9092")
  String kafka;

  @Option(
      names = "--file",
      required = true,
      description = "JSON file: [{\"schema\":..., \"version\":1, \"value\":{...}}, ...]")
  Path file;

  @Option(
      names = "--topic-prefix",
      defaultValue = "perfusion.",
      description = "topic prefix (default: ${DEFAULT-VALUE})")
  String prefix;

  @Override
  public Integer call() throws Exception {
    Topics topics = new Topics(prefix);
    JsonNode all = Schemas.json().readTree(file.toFile());
    if (!all.isArray()) {
      throw new IllegalArgumentException(file + " must hold a JSON array of events");
    }
    try (KafkaProducer<String, byte[]> p =
        new KafkaProducer<>(
            // SASL/TLS from the same PERFUSION_KAFKA_* settings as the services (config/README.md).
            new KafkaConnection(kafka, KafkaSecurity.from(System.getenv())).objectConfig(Map.of()),
            new StringSerializer(),
            new ByteArraySerializer())) {
      for (JsonNode e : all) {
        String schema = e.path("schema").asText();
        if (!REQUESTS.contains(schema)) {
          throw new IllegalArgumentException(
              "unknown schema '" + schema + "' (" + String.join(", ", REQUESTS) + ")");
        }
        int version = e.path("version").asInt(RecordCodec.version(schema));
        RecordCodec.Outgoing out;
        try {
          out = RecordCodec.encode(schema, version, e.path("value"));
        } catch (InvalidEventException invalid) {
          throw new IllegalArgumentException(
              file
                  + ": a "
                  + schema
                  + " v"
                  + version
                  + " value breaks its schema at "
                  + invalid.getMessage());
        }
        ProducerRecord<String, byte[]> r = out.toProducerRecord(topics);
        p.send(r).get();
        spec.commandLine().getOut().println(r.topic() + " <- " + out.key());
      }
    }
    return 0;
  }
}
