package org.perfusionjobs.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code perfusion produce}: sends example events from a JSON file the way an upstream app would.
 * The file holds an array of {@code {"schema": "generate-request", "version": 1, "value": {...}}};
 * the topic follows from the schema, the record key is the value's jobId.
 */
@Command(name = "produce", mixinStandardHelpOptions = true, description = "Produce example request events from a JSON file.")
final class ProduceCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--kafka", required = true, description = "bootstrap servers, e.g. 127.0.0.1:9092")
  String kafka;

  @Option(names = "--file", required = true, description = "JSON file: [{\"schema\":..., \"version\":1, \"value\":{...}}, ...]")
  Path file;

  @Option(names = "--topic-prefix", defaultValue = "perfusion.", description = "topic prefix (default: ${DEFAULT-VALUE})")
  String prefix;

  @Override
  public Integer call() throws Exception {
    Topics topics = new Topics(prefix);
    JsonNode all = Schemas.json().readTree(file.toFile());
    if (!all.isArray()) {
      throw new IllegalArgumentException(file + " must hold a JSON array of events");
    }
    try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(Map.of("bootstrap.servers", kafka), new StringSerializer(), new ByteArraySerializer())) {
      for (JsonNode e : all) {
        String schema = e.path("schema").asText();
        String topic = switch (schema) {
          case Schemas.GENERATE_REQUEST -> topics.generate();
          case Schemas.TRAIN_REQUEST -> topics.train();
          case Schemas.CANCEL_REQUEST -> topics.cancel();
          default -> throw new IllegalArgumentException("unknown schema '" + schema + "' (generate-request, train-request, cancel-request)");
        };
        JsonNode value = e.path("value");
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, value.path("jobId").asText(null), value.toString().getBytes(StandardCharsets.UTF_8));
        r.headers().add(Headers.SCHEMA, schema.getBytes(StandardCharsets.UTF_8));
        r.headers().add(Headers.VERSION, e.path("version").asText("1").getBytes(StandardCharsets.UTF_8));
        p.send(r).get();
        spec.commandLine().getOut().println(topic + " <- " + value.path("jobId").asText());
      }
    }
    return 0;
  }
}
