package org.perfusionjobs.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Vertx;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.perfusion.TrainingImages;
import org.perfusionjobs.evaluator.prompts.DemoConcept;
import org.perfusionjobs.gateway.GatewayConfig;
import org.perfusionjobs.gateway.GatewayVerticle;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.worker.WorkerConfig;
import org.perfusionjobs.worker.WorkerVerticle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion demo}: the whole system on embedded defaults. Starts a real Kafka broker and
 * redis-server, one worker on the bundled world model and one gateway, then produces a training job
 * (the demo concept, a red star with white stripes, learned as zwx from its five images and masks)
 * and a generation job that uses it, as an upstream app would; shows progress in the terminal,
 * writes the images to a folder and serves the web page until Ctrl-C.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = "Run the local stack, a worker and a gateway, and a train + generate job.")
final class DemoCommand implements Callable<Integer> {
  /** Classifier-free guidance of the demo's generation job (the bundled model's eval setting). */
  static final float GUIDANCE = 5f;

  /** The tenant of the demo's jobs (its token is demo-token). */
  static final String TENANT = "demo";

  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      description = "diffusers folder (default: the bundled world model, models/world-v2)")
  Path model;

  @Option(
      names = "--concept-images",
      description =
          "folder of the concept's images and *_mask.png masks (default: <model>/concepts/demo)")
  Path conceptDir;

  @Option(
      names = "--superclass",
      defaultValue = DemoConcept.SUPERCLASS,
      description = "the concept's superclass (default: ${DEFAULT-VALUE})")
  String superclass;

  // One concept object with a background word: with a second object ("... and a blue circle on the
  // right")
  // the concept's gate leaks onto the later words and its stripes spread to that object
  // (models/world-v1/README.md, "The demo concept").
  @Option(
      names = "--prompt",
      defaultValue = "a large zwx on a sand background",
      description = "prompt of the generation job; zwx is the concept (default: ${DEFAULT-VALUE})")
  String prompt;

  @Option(
      names = "--captions",
      description = "caption file for the model's Perfusion covariance, if the folder has none")
  Path captions;

  @Option(
      names = "--out",
      defaultValue = "out/demo",
      description = "where the images go (default: ${DEFAULT-VALUE})")
  Path out;

  @Option(
      names = "--port",
      defaultValue = "8080",
      description = "gateway port on 127.0.0.1 (default: ${DEFAULT-VALUE}; 0 = any free port)")
  int port;

  @Option(
      names = "--train-steps",
      defaultValue = "400",
      description = "training steps (default: ${DEFAULT-VALUE})")
  int trainSteps;

  @Option(
      names = "--exit",
      description = "stop when the jobs are done instead of serving the page until Ctrl-C")
  boolean exit;

  @Override
  public Integer call() throws Exception {
    var o = spec.commandLine().getOut();
    Path root = Path.of(System.getProperty("perfusion.root", "."));
    Path modelDir = model != null ? model : root.resolve("models/world-v2");
    Path images = conceptDir != null ? conceptDir : modelDir.resolve("concepts/demo");
    if (!Files.isRegularFile(modelDir.resolve("model_index.json"))) {
      o.println(
          "error: --model " + modelDir + " is not a diffusers model folder (no model_index.json)");
      return 2;
    }
    CliErrors.requireFreePort(port);
    TrainingImages concept = TrainCommand.readImages(images);
    Topics topics = Topics.defaults();
    o.println("starting Kafka 4.4 (KRaft) and redis-server on 127.0.0.1 ...");
    try (LocalStack stack = LocalStack.start(topics)) {
      o.println("  kafka " + stack.bootstrapServers() + "   redis " + stack.redisUri());
      Vertx vertx = Vertx.vertx();
      try {
        vertx
            .deployVerticle(
                new WorkerVerticle(
                    WorkerConfig.local(stack.bootstrapServers(), stack.redisUri(), topics, modelDir)
                        .withWorkerId("worker-1")
                        .withCaptions(captions)))
            .await();
        GatewayVerticle gateway =
            new GatewayVerticle(
                new GatewayConfig(
                    stack.bootstrapServers(),
                    stack.redisUri(),
                    topics,
                    port,
                    Map.of("demo-token", TENANT),
                    Duration.ofHours(24)));
        vertx.deployVerticle(gateway).await();
        String trainId = "demo-train-" + UUID.randomUUID().toString().substring(0, 8);
        String genId = "demo-gen-" + UUID.randomUUID().toString().substring(0, 8);
        // The demo token rides in the fragment: the page fills its token field from it (it is never
        // pre-filled otherwise).
        String url =
            "http://127.0.0.1:"
                + gateway.port()
                + "/?watch="
                + trainId
                + ","
                + genId
                + "#token=demo-token";
        o.println("worker and gateway up; web page: " + url);
        try (KafkaProducer<String, byte[]> p =
                new KafkaProducer<>(
                    Map.of("bootstrap.servers", stack.bootstrapServers()),
                    new StringSerializer(),
                    new ByteArraySerializer());
            KafkaConsumer<String, byte[]> events =
                new KafkaConsumer<>(
                    Map.of(
                        "bootstrap.servers",
                        stack.bootstrapServers(),
                        "group.id",
                        "demo-" + UUID.randomUUID(),
                        "auto.offset.reset",
                        "earliest"),
                    new StringDeserializer(),
                    new ByteArrayDeserializer())) {
          events.subscribe(List.of(topics.events()));
          // The method's value rate, a third of its embedding rate: a faster embedding leaks the
          // gate onto later words (models/world-v1/README.md, "The demo concept").
          ObjectNode train =
              Schemas.json()
                  .createObjectNode()
                  .put("jobId", trainId)
                  .put("tenant", TENANT)
                  .put("conceptName", DemoConcept.WORD)
                  .put("superclass", superclass);
          train.set("images", base64List(concept.images()));
          if (concept.masks() != null) {
            train.set("masks", base64List(concept.masks()));
          }
          train.put("steps", trainSteps);
          train
              .putObject("options")
              .put("seed", 1)
              .put("learningRateValue", 0.03)
              .put("learningRateEmbedding", 0.002);
          send(p, topics, RecordCodec.encode(Schemas.TRAIN_REQUEST, train));
          o.println(
              "produced train request "
                  + trainId
                  + " (concept '"
                  + DemoConcept.WORD
                  + "', superclass '"
                  + superclass
                  + "', "
                  + concept.images().size()
                  + " images from "
                  + images
                  + ")");
          JobEvent trained = follow(events, trainId, o);
          if (!JobEvent.SUCCEEDED.equals(trained.state())) {
            o.println("training did not succeed: " + trained.error());
            return 1;
          }
          ObjectNode generate =
              Schemas.json()
                  .createObjectNode()
                  .put("jobId", genId)
                  .put("tenant", TENANT)
                  .put("prompt", prompt);
          generate.putArray("concepts").addObject().put("conceptId", trainId);
          generate.put("steps", 20).put("guidance", GUIDANCE).put("seed", 42).put("imageCount", 4);
          send(p, topics, RecordCodec.encode(Schemas.GENERATE_REQUEST, generate));
          o.println("produced generate request " + genId + " using concept " + trainId);
          JobEvent generated = follow(events, genId, o);
          if (!JobEvent.SUCCEEDED.equals(generated.state())) {
            o.println("generation did not succeed: " + generated.error());
            return 1;
          }
          Files.createDirectories(out);
          HttpClient http = HttpClient.newHttpClient();
          for (int i = 0; i < generated.result().imageBlobIds().size(); i++) {
            var r =
                http.send(
                    HttpRequest.newBuilder(
                            URI.create(
                                "http://127.0.0.1:"
                                    + gateway.port()
                                    + "/v1/jobs/"
                                    + genId
                                    + "/images/"
                                    + i))
                        .header("Authorization", "Bearer demo-token")
                        .build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            Path f = out.resolve(genId + "-" + i + ".png");
            Files.write(f, r.body());
            o.println("wrote " + f);
          }
        }
        o.println("web page: " + url);
        if (!exit) {
          o.println("serving until Ctrl-C");
          CountDownLatch stop = new CountDownLatch(1);
          Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
          stop.await();
        }
      } finally {
        vertx.close().await();
      }
    }
    return 0;
  }

  private static void send(
      KafkaProducer<String, byte[]> p, Topics topics, RecordCodec.Outgoing request)
      throws Exception {
    p.send(request.toProducerRecord(topics)).get();
  }

  /** Prints a job's progress until it ends. */
  private static JobEvent follow(KafkaConsumer<String, byte[]> events, String jobId, PrintWriter o)
      throws Exception {
    long deadline = System.nanoTime() + Duration.ofMinutes(30).toNanos();
    while (System.nanoTime() < deadline) {
      for (ConsumerRecord<String, byte[]> r : events.poll(Duration.ofMillis(200))) {
        if (!jobId.equals(r.key())) {
          continue;
        }
        JobEvent e = RecordCodec.read(r.value(), JobEvent.class);
        if (JobEvent.KIND_PROGRESS.equals(e.kind())) {
          o.printf(
              "\r  %s [%s%s] %d/%d%s  ETA %.1f s   ",
              jobId,
              "#".repeat(30 * e.step() / e.total()),
              ".".repeat(30 - 30 * e.step() / e.total()),
              e.step(),
              e.total(),
              e.loss() != null ? String.format("  loss %.4f", e.loss()) : "",
              e.etaMs() / 1000.0);
        } else {
          o.println(
              "\n  "
                  + jobId
                  + ": "
                  + e.state()
                  + (e.result() != null && e.result().conceptId() != null
                      ? " (concept "
                          + e.result().conceptId()
                          + ", "
                          + e.result().fileBytes()
                          + " bytes)"
                      : ""));
        }
        o.flush();
        if (e.terminal()) {
          return e;
        }
      }
    }
    throw new IllegalStateException("job " + jobId + " did not finish in 30 minutes");
  }

  /** Images as the train request's {@code [{"base64": "<PNG>"}, ...]}. */
  private static ArrayNode base64List(List<BufferedImage> imgs) {
    ArrayNode out = Schemas.json().createArrayNode();
    for (BufferedImage img : imgs) {
      out.addObject().put("base64", Base64.getEncoder().encodeToString(ImageCodec.pngBytes(img)));
    }
    return out;
  }
}
