package org.perfusionjobs.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
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
 * {@code perfusion bench-jobs}: the job-system figures of docs/benchmarks.md on the local stack —
 * overhead per job (request produced to result consumed, minus the engine time the worker measured
 * in the same job), progress latency from worker publish to a WebSocket client, and gateway status
 * reads per second with 100 WebSocket subscribers connected. Bounded in count and time, loopback
 * only.
 */
@Command(
    name = "bench-jobs",
    mixinStandardHelpOptions = true,
    description = "Job-system overhead, progress latency and gateway throughput.")
final class BenchJobsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--jobs",
      defaultValue = "200",
      description = "jobs for the overhead figure (default: ${DEFAULT-VALUE})")
  int jobs;

  @Option(
      names = "--read-seconds",
      defaultValue = "10",
      description = "duration of the status-read load (default: ${DEFAULT-VALUE})")
  int readSeconds;

  @Option(
      names = "--soak",
      description =
          "instead: issue 19's soak (mixed jobs through two worker processes, one killed, Redis"
              + " restarted; docs/benchmarks.md)")
  boolean soak;

  @Option(
      names = "--soak-jobs",
      defaultValue = "1000",
      description = "jobs in the soak (default: ${DEFAULT-VALUE})")
  int soakJobs;

  @Option(
      names = "--soak-minutes",
      defaultValue = "120",
      description = "time limit of the soak (default: ${DEFAULT-VALUE})")
  int soakMinutes;

  @Option(
      names = "--soak-step-delay-ms",
      defaultValue = "50",
      description =
          "pause after every step in the soak's workers, so long jobs last seconds (default:"
              + " ${DEFAULT-VALUE})")
  long soakStepDelayMs;

  @Option(
      names = "--soak-steady-minutes",
      defaultValue = "0",
      description =
          "instead of --soak-jobs produced at once with a worker kill and a Redis restart: produce"
              + " the same mix (and a training job every --soak-train-every) for this many minutes,"
              + " at most --soak-in-flight jobs unfinished at a time, no faults; for memory over a"
              + " long process lifetime (default: ${DEFAULT-VALUE}: off)")
  int soakSteadyMinutes;

  @Option(
      names = "--soak-in-flight",
      defaultValue = "8",
      description = "steady soak: jobs produced but not ended, at most (default: ${DEFAULT-VALUE})")
  int soakInFlight;

  @Option(
      names = "--soak-train-every",
      defaultValue = "50",
      description =
          "steady soak: every n-th job trains a concept (2 images, 5-15 steps; 0: none) (default:"
              + " ${DEFAULT-VALUE})")
  int soakTrainEvery;

  @Option(
      names = "--soak-sample-seconds",
      defaultValue = "5",
      description = "seconds between VmRSS samples of the workers (default: ${DEFAULT-VALUE})")
  int soakSampleSeconds;

  @Option(
      names = "--soak-jvm-sample-seconds",
      defaultValue = "60",
      description =
          "seconds between the workers' JVM memory figures (jcmd: native memory tracking summary,"
              + " heap) (default: ${DEFAULT-VALUE})")
  int soakJvmSampleSeconds;

  @Option(
      names = "--soak-worker-jvm",
      description =
          "extra JVM option for the soak's workers, as all:OPTION or w1:OPTION / w2:OPTION"
              + " (repeatable)")
  List<String> soakWorkerJvm = new ArrayList<>();

  @Option(
      names = "--soak-worker-env",
      description =
          "extra environment variable for the soak's workers, as all:NAME=VALUE or w2:NAME=VALUE"
              + " (repeatable), e.g. w2:MALLOC_ARENA_MAX=2")
  List<String> soakWorkerEnv = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    var o = spec.commandLine().getOut();
    Path root = Path.of(System.getProperty("perfusion.root", ".")).toAbsolutePath().normalize();
    if (soak) {
      JobsSoak.Options so = new JobsSoak.Options();
      so.steadyMinutes = soakSteadyMinutes;
      so.inFlight = soakInFlight;
      so.trainEvery = soakTrainEvery;
      so.sampleSeconds = soakSampleSeconds;
      so.jvmSampleSeconds = soakJvmSampleSeconds;
      so.workerJvm = soakWorkerJvm;
      so.workerEnv = soakWorkerEnv;
      return new JobsSoak(o, root, soakJobs, soakMinutes, soakStepDelayMs, so).run();
    }
    Topics topics = new Topics("bench.");
    try (LocalStack stack = LocalStack.start(topics)) {
      Vertx vertx = Vertx.vertx();
      try {
        vertx
            .deployVerticle(
                new WorkerVerticle(
                    WorkerConfig.local(
                            stack.bootstrapServers(),
                            stack.redisUri(),
                            topics,
                            root.resolve("shared/testdata/sd-tiny-ref").normalize())
                        .withWorkerId("bench-worker")
                        .withCaptions(root.resolve("config/captions/sd-tiny-ref.txt"))))
            .await();
        GatewayVerticle gw =
            new GatewayVerticle(
                new GatewayConfig(
                    stack.bootstrapServers(),
                    stack.redisUri(),
                    topics,
                    0,
                    Map.of("t", "bench"),
                    Duration.ofHours(1)));
        vertx.deployVerticle(gw).await();
        HttpClient http = HttpClient.newHttpClient();
        try (KafkaProducer<String, byte[]> p =
                new KafkaProducer<>(
                    Map.of("bootstrap.servers", stack.bootstrapServers(), "linger.ms", "0"),
                    new StringSerializer(),
                    new ByteArraySerializer());
            KafkaConsumer<String, byte[]> events =
                new KafkaConsumer<>(
                    Map.of(
                        "bootstrap.servers",
                        stack.bootstrapServers(),
                        "group.id",
                        "bench-" + UUID.randomUUID(),
                        "auto.offset.reset",
                        "latest",
                        "fetch.max.wait.ms",
                        "5"),
                    new StringDeserializer(),
                    new ByteArrayDeserializer())) {
          events.subscribe(List.of(topics.events()));
          while (events.assignment().isEmpty()) {
            events.poll(Duration.ofMillis(100));
          }
          // Warm-up: group join, JIT, first model run.
          for (int i = 0; i < 5; i++) {
            runJob(p, events, topics, "warm-" + i, 1);
          }
          double[] overhead = new double[jobs];
          double[] engine = new double[jobs];
          for (int i = 0; i < jobs; i++) {
            long t0 = System.nanoTime();
            JobEvent r = runJob(p, events, topics, "ovh-" + i, 1);
            double total = (System.nanoTime() - t0) / 1e6;
            engine[i] = r.result().engineMs();
            overhead[i] = total - engine[i];
          }
          o.printf("jobs: %d tiny generations (1 step, 32x32, CFG), one worker%n", jobs);
          o.printf("  engine time   p50 %.1f ms  p99 %.1f ms%n", pct(engine, 50), pct(engine, 99));
          o.printf(
              "  overhead      p50 %.1f ms  p99 %.1f ms  (produce -> result consumed, minus engine"
                  + " time)%n",
              pct(overhead, 50), pct(overhead, 99));

          // Progress latency: worker event time -> WebSocket receive, over 10 jobs of 40 steps.
          List<Double> latencies = new CopyOnWriteArrayList<>();
          List<String> ids = new ArrayList<>();
          for (int i = 0; i < 10; i++) {
            ids.add("lat-" + i);
          }
          WebSocket ws =
              http.newWebSocketBuilder()
                  .buildAsync(
                      URI.create("ws://127.0.0.1:" + gw.port() + "/v1/ws?token=t"),
                      new WebSocket.Listener() {
                        final StringBuilder sb = new StringBuilder();

                        @Override
                        public CompletionStage<?> onText(
                            WebSocket w, CharSequence data, boolean last) {
                          sb.append(data);
                          if (last) {
                            long now = System.currentTimeMillis();
                            try {
                              var f = Schemas.json().readTree(sb.toString());
                              if ("event".equals(f.path("type").asText())
                                  && "progress".equals(f.path("data").path("kind").asText())) {
                                latencies.add(
                                    (double)
                                        (now
                                            - Instant.parse(f.path("data").path("time").asText())
                                                .toEpochMilli()));
                              }
                            } catch (IOException ignored) {
                              // not a frame of ours
                            }
                            sb.setLength(0);
                          }
                          w.request(1);
                          return null;
                        }
                      })
                  .get();
          ws.sendText(
                  "{\"subscribe\":["
                      + String.join(
                          ",",
                          ids.stream()
                              .map(id -> "{\"jobId\":\"" + id + "\",\"afterSeq\":-1}")
                              .toList())
                      + "]}",
                  true)
              .get();
          for (String id : ids) {
            runJob(p, events, topics, id, 40);
          }
          Thread.sleep(500);
          double[] lat = latencies.stream().mapToDouble(Double::doubleValue).toArray();
          o.printf(
              "progress latency (worker publish -> WebSocket client): %d events, p50 %.1f ms, p99"
                  + " %.1f ms%n",
              lat.length, pct(lat, 50), pct(lat, 99));
          ws.abort();

          // Gateway: status reads with 100 WebSocket subscribers connected.
          List<WebSocket> subs = new ArrayList<>();
          for (int i = 0; i < 100; i++) {
            subs.add(
                http.newWebSocketBuilder()
                    .buildAsync(
                        URI.create("ws://127.0.0.1:" + gw.port() + "/v1/ws?token=t"),
                        new WebSocket.Listener() {})
                    .get());
            subs.get(i)
                .sendText("{\"subscribe\":[{\"jobId\":\"ovh-" + i + "\",\"afterSeq\":-1}]}", true);
          }
          AtomicLong done = new AtomicLong();
          AtomicLong failed = new AtomicLong();
          long until = System.nanoTime() + Duration.ofSeconds(readSeconds).toNanos();
          List<CompletableFuture<Void>> loops = new ArrayList<>();
          for (int c = 0; c < 32; c++) {
            final int k = c;
            loops.add(
                CompletableFuture.runAsync(
                    () -> {
                      HttpRequest req =
                          HttpRequest.newBuilder(
                                  URI.create("http://127.0.0.1:" + gw.port() + "/v1/jobs/ovh-" + k))
                              .header("Authorization", "Bearer t")
                              .build();
                      while (System.nanoTime() < until) {
                        try {
                          HttpResponse<Void> r =
                              http.send(req, HttpResponse.BodyHandlers.discarding());
                          (r.statusCode() == 200 ? done : failed).incrementAndGet();
                        } catch (Exception e) {
                          failed.incrementAndGet();
                        }
                      }
                    }));
          }
          CompletableFuture.allOf(loops.toArray(new CompletableFuture[0])).get();
          o.printf(
              "gateway: %.0f status reads/s (32 concurrent clients, %d s, %d failed) with 100"
                  + " WebSocket subscribers%n",
              done.get() / (double) readSeconds, readSeconds, failed.get());
          subs.forEach(WebSocket::abort);
        }
      } finally {
        vertx.close().await();
      }
    }
    return 0;
  }

  private static JobEvent runJob(
      KafkaProducer<String, byte[]> p,
      KafkaConsumer<String, byte[]> events,
      Topics topics,
      String jobId,
      int steps)
      throws Exception {
    ObjectNode request =
        Schemas.json()
            .createObjectNode()
            .put("jobId", jobId)
            .put("tenant", "bench")
            .put("prompt", "a toy car")
            .put("steps", steps)
            .put("seed", 1);
    p.send(RecordCodec.encode(Schemas.GENERATE_REQUEST, request).toProducerRecord(topics));
    long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
    while (System.nanoTime() < deadline) {
      for (ConsumerRecord<String, byte[]> rec : events.poll(Duration.ofMillis(5))) {
        if (jobId.equals(rec.key())) {
          JobEvent e = RecordCodec.read(rec.value(), JobEvent.class);
          if (e.terminal()) {
            if (!JobEvent.SUCCEEDED.equals(e.state())) {
              throw new IllegalStateException(jobId + " " + e.state() + " " + e.error());
            }
            return e;
          }
        }
      }
    }
    throw new IllegalStateException(jobId + " timed out");
  }

  private static double pct(double[] v, int p) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length == 0
        ? Double.NaN
        : s[Math.min(s.length - 1, (int) Math.ceil(p / 100.0 * s.length) - 1)];
  }
}
