package org.perfusionjobs.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.InvalidEventException;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.RecordCodec;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;

/**
 * {@code perfusion bench-jobs --soak}: issue 19's soak. A real broker and redis-server on loopback,
 * two worker processes (the tiny model, a per-step delay so long jobs outlast several renewals),
 * and a mix of jobs produced at once: short and long valid generations, malformed records of eight
 * kinds, and jobs cancelled while queued or while running. During the run one worker is killed with
 * SIGKILL while it runs a long job (and started again 10 s later, as a supervisor would), and
 * redis-server is stopped for 10 s and started again empty. Workers' resident memory is sampled
 * every 5 s. At the end every job's events and dead letters are checked:
 *
 * <ul>
 *   <li>valid job: exactly one {@code succeeded}, no other outcome, no dead letter;
 *   <li>malformed job: exactly one {@code failed} and exactly one dead letter;
 *   <li>cancelled job: exactly one outcome, {@code cancelled} (or {@code succeeded} when the cancel
 *       came too late), no dead letter;
 *   <li>every job: seq strictly increasing in the topic's order; nothing in the broker's
 *       dead-letter topic.
 * </ul>
 *
 * Bounded: the job count, and {@code --soak-minutes} for the whole run. Exit code 1 if a check
 * fails.
 */
final class JobsSoak {
  enum Kind {
    SHORT,
    LONG,
    MALFORMED,
    CANCEL_QUEUED,
    CANCEL_RUNNING,
    TRAIN
  }

  /**
   * Settings beyond the batch soak's: a steady mode (a bounded number of jobs in flight for a given
   * time, no faults) for memory over a long process lifetime, and the worker JVMs' settings.
   */
  static final class Options {
    /** 0: produce every job at once (the batch soak, with faults); else produce for this long. */
    int steadyMinutes;

    /** Steady mode: jobs produced but not ended, at most. */
    int inFlight = 8;

    /** Steady mode: every n-th job trains a concept (0: none). */
    int trainEvery = 50;

    /** Seconds between VmRSS samples. */
    int sampleSeconds = 5;

    /** Seconds between the JVM's own memory figures (jcmd: NMT summary, heap). */
    int jvmSampleSeconds = 60;

    /** Extra worker JVM options, {@code all:OPTION} or {@code w2:OPTION}. */
    List<String> workerJvm = List.of();

    /** Extra worker environment, {@code all:NAME=VALUE} or {@code w2:NAME=VALUE}. */
    List<String> workerEnv = List.of();
  }

  /** One produced request and what it must end with. */
  static final class Job {
    final String id;
    final Kind kind;
    final int steps;

    /** Which of the eight malformations (malformed jobs only). */
    final int variant;

    long offset = -1;

    /** The topic the request went to (offsets are per topic). */
    String topic = "";

    Job(String id, Kind kind, int steps, int variant) {
      this.id = id;
      this.kind = kind;
      this.steps = steps;
      this.variant = variant;
    }

    String describe() {
      return kind == Kind.MALFORMED
          ? "malformed " + MALFORMATIONS[variant]
          : kind.name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private static final int MAX_STEPS = 150;

  /**
   * Long jobs take 40-60 steps: with the step delay, several seconds and a few lock renewals each.
   */
  private static final int LONG_STEPS = 40;

  static final String[] MALFORMATIONS = {
    "not JSON",
    "steps of the wrong type",
    "version header 01",
    "no schema header",
    "unknown field",
    "steps over the worker's budget",
    "version header without a value",
    "width not a multiple of the model's factor"
  };
  private final PrintWriter out;
  private final Path root;
  private final int count;
  private final int minutes;
  private final long stepDelayMs;
  private final Options options;
  private final Map<String, Map<String, List<double[]>>> jvmSeries = new ConcurrentHashMap<>();
  private PrintWriter memoryCsv;
  private Path jcmdCommands;
  private final Topics topics = new Topics("soak.");
  private final Map<String, Process> workers = new ConcurrentHashMap<>();
  private final Map<String, Integer> ports = new HashMap<>();
  private final Map<String, List<JobEvent>> events = new ConcurrentHashMap<>();
  private final List<ConsumerRecord<byte[], byte[]>> deadLetters = new CopyOnWriteArrayList<>();
  private final List<ConsumerRecord<byte[], byte[]>> brokerDeadLetters =
      new CopyOnWriteArrayList<>();
  private final Map<String, List<long[]>> rssSeries = new ConcurrentHashMap<>();
  private Path logs;
  private Path covariance;
  private LocalStack stack;
  private volatile boolean reading = true;
  private final long t0 = System.nanoTime();

  JobsSoak(PrintWriter out, Path root, int count, int minutes, long stepDelayMs, Options options) {
    this.options = options;
    this.out = out;
    this.root = root;
    this.count = count;
    this.minutes = minutes;
    this.stepDelayMs = stepDelayMs;
  }

  private double now() {
    return (System.nanoTime() - t0) / 1e9;
  }

  private void say(String fmt, Object... args) {
    out.printf("[%7.1f s] " + fmt + "%n", prepend(now(), args));
    out.flush();
  }

  private static Object[] prepend(Object first, Object[] rest) {
    Object[] all = new Object[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }

  int run() throws Exception {
    logs = Files.createTempDirectory("perfusion-soak");
    boolean steady = options.steadyMinutes > 0;
    List<Job> jobs = steady ? new ArrayList<>() : plan(0, count, new Random(19), new int[1]);
    if (steady) {
      say(
          "soak, steady: %d min of jobs, at most %d in flight (mix per 20: 16 short, 1 long, 2"
              + " malformed, 1 cancelled; every %d-th a training job), 2 worker processes, no"
              + " faults, step delay %d ms; worker logs in %s",
          options.steadyMinutes, options.inFlight, options.trainEvery, stepDelayMs, logs);
    } else {
      say(
          "soak: %d jobs (%s), 2 worker processes, step delay %d ms; worker logs in %s",
          jobs.size(), census(jobs), stepDelayMs, logs);
    }
    jcmdCommands = WorkerMemory.commandsFile(logs);
    memoryCsv =
        new PrintWriter(
            Files.newBufferedWriter(logs.resolve("worker-memory.csv"), StandardCharsets.UTF_8),
            true);
    memoryCsv.println("seconds,worker,pid,metric,kb");
    say("worker memory samples in %s", logs.resolve("worker-memory.csv"));
    // The tiny model's covariance, computed once here rather than by every worker (re)start.
    covariance = logs.resolve("tiny-covariance.safetensors");
    Path captions = root.resolve("config/captions/sd-tiny-ref.txt");
    try (var sd =
        org.perfusionjobs.engine.pipeline.StableDiffusionPipeline.load(
            root.resolve("shared/testdata/sd-tiny-ref"),
            org.perfusionjobs.engine.pipeline.EngineOptions.cpu())) {
      org.perfusionjobs.engine.perfusion.CovarianceBuilder.compute(
              sd,
              org.perfusionjobs.engine.perfusion.CovarianceBuilder.readCaptions(captions),
              false,
              captions.getFileName().toString(),
              n -> {})
          .save(covariance);
    }
    stack = LocalStack.start(topics);
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", stack.bootstrapServers()))) {
      for (String kind : List.of("train", "generate")) {
        // The broker's shortest record lock: long jobs live on renewals.
        admin
            .incrementalAlterConfigs(
                Map.of(
                    new ConfigResource(
                        ConfigResource.Type.GROUP, LocalStack.WORKER_GROUP + "-" + kind),
                    List.of(
                        new AlterConfigOp(
                            new ConfigEntry("share.record.lock.duration.ms", "15000"),
                            AlterConfigOp.OpType.SET))))
            .all()
            .get(30, TimeUnit.SECONDS);
      }
    }
    List<Thread> readers =
        List.of(
            reader(
                topics.events(),
                r -> {
                  try {
                    JobEvent e = Schemas.json().readValue(r.value(), JobEvent.class);
                    events.computeIfAbsent(e.jobId(), k -> new CopyOnWriteArrayList<>()).add(e);
                  } catch (IOException e) {
                    say("unreadable event at offset %d: %s", r.offset(), e.getMessage());
                  }
                }),
            reader(topics.deadLetter(), deadLetters::add),
            reader(topics.brokerDeadLetter(), brokerDeadLetters::add));
    Thread sampler = null;
    // Interrupted (Ctrl-C), the worker processes must not outlive the soak.
    Thread hook =
        new Thread(
            () -> workers.values().forEach(Process::destroyForcibly), "soak-workers-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      startWorker("w1");
      startWorker("w2");
      awaitReady("w1");
      awaitReady("w2");
      sampler = new Thread(this::sampleMemory, "memory-sampler");
      sampler.setDaemon(true);
      sampler.start();
      say("workers ready (w1 pid %d, w2 pid %d)", workers.get("w1").pid(), workers.get("w2").pid());
      try (KafkaProducer<byte[], byte[]> p =
          new KafkaProducer<>(
              Map.of(
                  "bootstrap.servers", stack.bootstrapServers(), "acks", "all", "linger.ms", "5"),
              new ByteArraySerializer(),
              new ByteArraySerializer())) {
        if (steady) {
          driveSteady(jobs, p);
        } else {
          long produceStart = System.nanoTime();
          List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> sent =
              new ArrayList<>();
          for (int i = 0; i < jobs.size(); i++) {
            sent.add(p.send(record(jobs.get(i), i)));
          }
          for (int i = 0; i < jobs.size(); i++) {
            var meta = sent.get(i).get(60, TimeUnit.SECONDS);
            jobs.get(i).offset = meta.offset();
            jobs.get(i).topic = meta.topic();
            if (jobs.get(i).kind == Kind.CANCEL_QUEUED) {
              p.send(cancel(jobs.get(i)));
            }
          }
          say(
              "produced %d requests in %.1f s",
              jobs.size(), (System.nanoTime() - produceStart) / 1e9);
          drive(jobs, p);
        }
      }
      say("all jobs ended; waiting 20 s for late duplicates");
      Thread.sleep(20_000);
      reading = false;
      return check(jobs);
    } finally {
      reading = false;
      workers.values().forEach(Process::destroyForcibly);
      Runtime.getRuntime().removeShutdownHook(hook);
      for (Thread t : readers) {
        t.join(5000);
      }
      stack.close();
    }
  }

  /**
   * The mix: 80% short, 5% long, 10% malformed (8 kinds), 5% cancelled (half queued, half running);
   * shuffled with a fixed seed.
   */
  private List<Job> plan(int first, int n, Random rnd, int[] malformedSoFar) {
    List<Job> jobs = new ArrayList<>();
    int malformed = malformedSoFar[0];
    for (int i = first; i < first + n; i++) {
      int bucket = i % 20;
      String id = String.format("soak-%04d", i);
      if (options.steadyMinutes > 0
          && options.trainEvery > 0
          && i % options.trainEvery == options.trainEvery - 1) {
        jobs.add(new Job(id, Kind.TRAIN, 5 + rnd.nextInt(11), 0));
      } else if (bucket < 16) {
        jobs.add(new Job(id, Kind.SHORT, 1 + rnd.nextInt(3), 0));
      } else if (bucket == 16) {
        jobs.add(new Job(id, Kind.LONG, LONG_STEPS + rnd.nextInt(LONG_STEPS / 2 + 1), 0));
      } else if (bucket < 19) {
        jobs.add(new Job(id, Kind.MALFORMED, 1, malformed++ % MALFORMATIONS.length));
      } else {
        jobs.add(
            new Job(
                id, (i / 20) % 2 == 0 ? Kind.CANCEL_QUEUED : Kind.CANCEL_RUNNING, LONG_STEPS, 0));
      }
    }
    malformedSoFar[0] = malformed;
    Collections.shuffle(jobs, rnd);
    return jobs;
  }

  private static String census(List<Job> jobs) {
    Map<Kind, Integer> n = new LinkedHashMap<>();
    for (Kind k : Kind.values()) {
      n.put(k, 0);
    }
    jobs.forEach(j -> n.merge(j.kind, 1, Integer::sum));
    return n.toString().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * A valid job goes through the contract's codec, as an upstream app's would; a malformed one is
   * built by hand, since breaking the contract is its point.
   */
  private ProducerRecord<byte[], byte[]> record(Job j, int i) {
    if (j.kind == Kind.TRAIN) {
      ObjectNode train = Schemas.json().createObjectNode();
      train.put("jobId", j.id).put("tenant", "soak").put("conceptName", "zwx");
      train.put("superclass", "car").put("steps", j.steps);
      var images = train.putArray("images");
      for (int k = 0; k < 2; k++) {
        images.addObject().put("base64", trainingImage(i + k));
      }
      train.putObject("options").put("batchSize", 1).put("gradientAccumulation", 1).put("seed", i);
      return encoded(Schemas.TRAIN_REQUEST, train);
    }
    ObjectNode request = Schemas.json().createObjectNode();
    request.put("jobId", j.id).put("tenant", "soak").put("prompt", "a toy car number " + i);
    request.put("steps", j.steps).put("seed", i).put("width", 32).put("height", 32);
    if (j.kind != Kind.MALFORMED) {
      return encoded(Schemas.GENERATE_REQUEST, request);
    }
    String body = request.toString();
    String version = "1";
    String schema = Schemas.GENERATE_REQUEST;
    boolean nullVersion = false;
    switch (j.variant) {
      case 0 -> body = "{\"jobId\":\"" + j.id + "\",\"tenant\":\"soak\",\"prompt\":"; // not JSON
      case 1 -> body = request.deepCopy().put("steps", "one").toString(); // wrong type
      case 2 -> version = "01"; // version not strict
      case 3 -> schema = null; // no schema header
      case 4 -> body = request.deepCopy().put("colour", "red").toString(); // unknown field
      case 5 ->
          body =
              request
                  .deepCopy()
                  .put("steps", MAX_STEPS + 30)
                  .toString(); // over the worker's budget
      case 6 -> nullVersion = true; // header without a value
      default -> body = request.deepCopy().put("width", 33).toString(); // odd: no model's factor
    }
    RecordHeaders h = new RecordHeaders();
    if (schema != null) {
      h.add(Headers.SCHEMA, schema.getBytes(StandardCharsets.UTF_8));
    }
    h.add(Headers.VERSION, nullVersion ? null : version.getBytes(StandardCharsets.UTF_8));
    return new ProducerRecord<>(
        topics.generate(),
        null,
        j.id.getBytes(StandardCharsets.UTF_8),
        body.getBytes(StandardCharsets.UTF_8),
        h);
  }

  /** A 32 x 32 PNG: a red square on blue, placed by {@code k}. */
  private static String trainingImage(int k) {
    var img = new java.awt.image.BufferedImage(32, 32, java.awt.image.BufferedImage.TYPE_INT_RGB);
    var g = img.createGraphics();
    g.setColor(java.awt.Color.BLUE);
    g.fillRect(0, 0, 32, 32);
    g.setColor(java.awt.Color.RED);
    g.fillRect(4 + k % 8, 4 + (k / 8) % 8, 14, 14);
    g.dispose();
    return java.util.Base64.getEncoder()
        .encodeToString(org.perfusionjobs.engine.image.ImageCodec.pngBytes(img));
  }

  /**
   * Steady mode: keeps at most {@code inFlight} jobs produced but not ended, for {@code
   * steadyMinutes}; then waits for the rest (bounded by the soak's time limit). No faults.
   */
  private void driveSteady(List<Job> jobs, KafkaProducer<byte[], byte[]> p) throws Exception {
    long start = System.nanoTime();
    long stopProducing = start + TimeUnit.MINUTES.toNanos(options.steadyMinutes);
    long deadline = start + TimeUnit.MINUTES.toNanos(minutes);
    Random rnd = new Random(19);
    int[] malformed = {0};
    java.util.ArrayDeque<Job> pending = new java.util.ArrayDeque<>();
    java.util.Set<String> cancelSent = new java.util.HashSet<>();
    int planned = 0;
    int firstOpen = 0;
    long lastReport = 0;
    while (System.nanoTime() < deadline) {
      while (firstOpen < jobs.size() && ended(jobs.get(firstOpen))) {
        firstOpen++;
      }
      int open = 0;
      for (int k = firstOpen; k < jobs.size(); k++) {
        Job j = jobs.get(k);
        if (!ended(j)) {
          open++;
          if (j.kind == Kind.CANCEL_RUNNING && !cancelSent.contains(j.id) && running(j)) {
            p.send(cancel(j));
            cancelSent.add(j.id);
          }
        }
      }
      boolean producing = System.nanoTime() < stopProducing;
      if (!producing && open == 0) {
        say("steady: %d jobs produced, all ended", jobs.size());
        return;
      }
      while (producing && open < options.inFlight) {
        if (pending.isEmpty()) {
          pending.addAll(plan(planned, 20, rnd, malformed));
          planned += 20;
        }
        Job j = pending.poll();
        var meta = p.send(record(j, jobs.size())).get(60, TimeUnit.SECONDS);
        j.offset = meta.offset();
        j.topic = meta.topic();
        jobs.add(j);
        if (j.kind == Kind.CANCEL_QUEUED) {
          p.send(cancel(j));
        }
        open++;
      }
      if (System.nanoTime() - lastReport > 60_000_000_000L) {
        lastReport = System.nanoTime();
        say(
            "steady: %d jobs produced, %d open%s",
            jobs.size(), open, producing ? "" : " (no longer producing)");
      }
      Thread.sleep(200);
    }
    say("time is up (%d min): not every job ended", minutes);
  }

  private ProducerRecord<byte[], byte[]> cancel(Job j) {
    ObjectNode request = Schemas.json().createObjectNode();
    request.put("jobId", j.id).put("tenant", "soak");
    request.put("reason", "soak cancel (" + j.kind.name().toLowerCase(Locale.ROOT) + ")");
    return encoded(Schemas.CANCEL_REQUEST, request);
  }

  /**
   * Through {@link RecordCodec}: checked against its schema, key and headers as the contract writes
   * them.
   */
  private ProducerRecord<byte[], byte[]> encoded(String schema, ObjectNode value) {
    try {
      ProducerRecord<String, byte[]> r = RecordCodec.encode(schema, value).toProducerRecord(topics);
      return new ProducerRecord<>(
          r.topic(), null, r.key().getBytes(StandardCharsets.UTF_8), r.value(), r.headers());
    } catch (InvalidEventException e) {
      throw new IllegalStateException(
          "the soak built an invalid " + schema + ": " + e.getMessage(), e);
    }
  }

  private boolean ended(Job j) {
    List<JobEvent> es = events.get(j.id);
    return es != null && es.stream().anyMatch(JobEvent::terminal);
  }

  private boolean running(Job j) {
    List<JobEvent> es = events.get(j.id);
    return es != null && es.stream().anyMatch(e -> JobEvent.RUNNING.equals(e.state()));
  }

  /**
   * Sends the running-cancels, kills a worker at 30% and restarts Redis at 60%, until every job
   * ended or time is up.
   */
  private void drive(List<Job> jobs, KafkaProducer<byte[], byte[]> p) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(minutes);
    java.util.Set<String> cancelSent = new java.util.HashSet<>();
    boolean killed = false;
    boolean redisDone = false;
    long killedAt = 0;
    long armedAt = 0;
    String victimJob = null;
    boolean restarted = false;
    int lastReported = -1;
    while (System.nanoTime() < deadline) {
      int done = 0;
      for (Job j : jobs) {
        if (ended(j)) {
          done++;
        } else if (j.kind == Kind.CANCEL_RUNNING && !cancelSent.contains(j.id) && running(j)) {
          p.send(cancel(j));
          cancelSent.add(j.id);
        }
      }
      if (done * 10 / jobs.size() != lastReported) {
        lastReported = done * 10 / jobs.size();
        say("%d of %d jobs ended", done, jobs.size());
      }
      if (done == jobs.size()) {
        return;
      }
      if (!killed && done >= jobs.size() * 3 / 10) {
        // Kill w1 in the middle of real work: while it runs a long job, else (after 30 s) any job,
        // else (after 60 s) anyway.
        if (armedAt == 0) {
          armedAt = System.nanoTime();
        }
        double armed = (System.nanoTime() - armedAt) / 1e9;
        String target = null;
        for (Job j : jobs) {
          List<JobEvent> es = events.get(j.id);
          if (es != null
              && !es.isEmpty()
              && !ended(j)
              && "w1".equals(es.get(es.size() - 1).worker())
              && (j.kind == Kind.LONG || armed > 30)) {
            target = j.id + " (" + j.describe() + ")";
            victimJob = j.id;
            break;
          }
        }
        if (target != null || armed > 60) {
          workers.get("w1").destroyForcibly().waitFor(10, TimeUnit.SECONDS);
          killedAt = System.nanoTime();
          killWallMillis = System.currentTimeMillis();
          killed = true;
          say(
              "killed w1 (SIGKILL) %s",
              target == null ? "(it ran no job for 60 s)" : "while it ran job " + target);
        }
      }
      if (killed && !restarted && System.nanoTime() - killedAt > 10_000_000_000L) {
        startWorker("w1");
        restarted = true;
        say("started w1 again (pid %d)", workers.get("w1").pid());
      }
      if (victimJob != null) {
        String v = victimJob;
        var takeover =
            events.getOrDefault(v, List.of()).stream()
                .filter(e -> !"w1".equals(e.worker()))
                .findFirst();
        if (takeover.isPresent()) {
          say(
              "job %s taken over by %s %.1f s after the kill (its first event there)",
              v,
              takeover.get().worker(),
              (java.time.Instant.parse(takeover.get().time()).toEpochMilli() - killWallMillis)
                  / 1000.0);
          victimJob = null;
        }
      }
      if (!redisDone && done >= jobs.size() * 6 / 10) {
        say("stopping redis-server for 10 s (it comes back empty: no persistence)");
        stack.redis().stop();
        Thread.sleep(10_000);
        stack.redis().startAgain();
        redisDone = true;
        say("redis-server started again");
      }
      Thread.sleep(200);
    }
    say("time is up (%d min): not every job ended", minutes);
  }

  private long killWallMillis;

  private int check(List<Job> jobs) {
    // Keyed by the original topic and offset: training and generation requests have their own.
    Map<String, List<ConsumerRecord<byte[], byte[]>>> dlByOffset = new HashMap<>();
    for (ConsumerRecord<byte[], byte[]> r : deadLetters) {
      var h = r.headers().lastHeader(Headers.DLQ_OFFSET);
      var topic = r.headers().lastHeader(Headers.DLQ_TOPIC);
      if (h != null) {
        dlByOffset
            .computeIfAbsent(
                (topic == null || topic.value() == null
                        ? ""
                        : new String(topic.value(), StandardCharsets.UTF_8))
                    + ":"
                    + new String(h.value(), StandardCharsets.UTF_8),
                k -> new ArrayList<>())
            .add(r);
      }
    }
    Map<String, Integer> bad = new LinkedHashMap<>();
    List<String> examples = new ArrayList<>();
    int reruns = 0;
    int cancelled = 0;
    int cancelLate = 0;
    long eventCount = 0;
    for (Job j : jobs) {
      List<JobEvent> es = events.getOrDefault(j.id, List.of());
      eventCount += es.size();
      long succeeded = es.stream().filter(e -> JobEvent.SUCCEEDED.equals(e.state())).count();
      long failed = es.stream().filter(e -> JobEvent.FAILED.equals(e.state())).count();
      long cancels = es.stream().filter(e -> JobEvent.CANCELLED.equals(e.state())).count();
      long runs =
          es.stream()
              .filter(e -> JobEvent.RUNNING.equals(e.state()) && "state".equals(e.kind()))
              .count();
      int dls = dlByOffset.getOrDefault(j.topic + ":" + j.offset, List.of()).size();
      String problem = null;
      switch (j.kind) {
        case SHORT, LONG, TRAIN -> {
          if (succeeded != 1 || failed + cancels != 0) {
            problem = "valid job without exactly one succeeded";
          } else if (dls != 0) {
            problem = "valid job dead-lettered";
          }
        }
        case MALFORMED -> {
          if (failed != 1 || succeeded + cancels != 0) {
            problem = "malformed job without exactly one failed";
          } else if (dls != 1) {
            problem = "malformed job with " + dls + " dead letters";
          }
        }
        default -> {
          if (succeeded + failed + cancels != 1 || failed != 0) {
            problem = "cancelled job without exactly one outcome";
          } else if (dls != 0) {
            problem = "cancelled job dead-lettered";
          }
          cancelled += (int) cancels;
          cancelLate += (int) succeeded;
        }
      }
      for (int i = 1; problem == null && i < es.size(); i++) {
        if (es.get(i).seq() <= es.get(i - 1).seq()) {
          problem = "seq not strictly increasing";
        }
      }
      if (runs > 1) {
        reruns++;
      }
      if (problem != null) {
        bad.merge(problem, 1, Integer::sum);
        if (examples.size() < 5) {
          examples.add(
              j.id
                  + " ("
                  + j.describe()
                  + "): "
                  + problem
                  + ": "
                  + es.stream()
                      .filter(e -> !"progress".equals(e.kind()))
                      .map(e -> e.seq() + ":" + e.state() + "@" + e.worker())
                      .toList()
                  + ", dead letters "
                  + dls);
        }
      }
    }
    say(
        "checked %d jobs, %d events, %d dead letters, %d in the broker's dead-letter topic",
        jobs.size(), eventCount, deadLetters.size(), brokerDeadLetters.size());
    say(
        "  valid jobs: %d, malformed: %d, cancel targets: %d (%d cancelled, %d finished before the"
            + " cancel)",
        jobs.stream()
            .filter(j -> j.kind == Kind.SHORT || j.kind == Kind.LONG || j.kind == Kind.TRAIN)
            .count(),
        jobs.stream().filter(j -> j.kind == Kind.MALFORMED).count(),
        jobs.stream()
            .filter(j -> j.kind == Kind.CANCEL_QUEUED || j.kind == Kind.CANCEL_RUNNING)
            .count(),
        cancelled,
        cancelLate);
    say(
        "  jobs with more than one running event (run again after the kill or the Redis restart):"
            + " %d",
        reruns);
    if (!brokerDeadLetters.isEmpty()) {
      bad.merge("records archived by the broker", brokerDeadLetters.size(), Integer::sum);
    }
    reportRss();
    if (bad.isEmpty()) {
      say(
          "PASS: every valid job exactly one succeeded, every malformed one exactly one failed and"
              + " one dead letter, seqs strictly increasing");
      return 0;
    }
    say("FAIL: %s", bad);
    examples.forEach(e -> say("  %s", e));
    return 1;
  }

  private void reportRss() {
    say(
        "resident memory (VmRSS, MB) of the worker processes, sampled every %d s:",
        options.sampleSeconds);
    for (Map.Entry<String, List<long[]>> e : new java.util.TreeMap<>(rssSeries).entrySet()) {
      List<long[]> s = e.getValue();
      if (s.size() < 4) {
        say("  %s: %d samples", e.getKey(), s.size());
        continue;
      }
      // After warm-up: from the sample at a quarter of the series on.
      List<long[]> warm = s.subList(s.size() / 4, s.size());
      long min = warm.stream().mapToLong(x -> x[1]).min().orElse(0);
      long max = warm.stream().mapToLong(x -> x[1]).max().orElse(0);
      long first = warm.get(0)[1];
      long last = warm.get(warm.size() - 1)[1];
      say(
          "  %s: %d samples over %.0f s; start %d, at 1/4 %d, min %d, max %d, last %d (last - at"
              + " 1/4: %+d)",
          e.getKey(),
          s.size(),
          (s.get(s.size() - 1)[0] - s.get(0)[0]) / 1000.0,
          s.get(0)[1] / 1024,
          first / 1024,
          min / 1024,
          max / 1024,
          last / 1024,
          (last - first) / 1024);
      StringBuilder deciles = new StringBuilder();
      for (int d = 0; d <= 10; d++) {
        long[] x = s.get(Math.min(s.size() - 1, d * (s.size() - 1) / 10));
        deciles.append(String.format(" %.0fs:%d", x[0] / 1000.0, x[1] / 1024));
      }
      say("    (run time:MB)%s", deciles);
      reportTrend(e.getKey(), s);
    }
  }

  /**
   * The trend over the second half of a worker's life (warm-up left out): VmRSS's slope with its
   * 95% interval, then the JVM's own figures (NMT committed per category, heap, metaspace, threads,
   * and VmRSS minus NMT's total: memory the JVM does not account for, such as libtorch's and
   * glibc's allocations) at the half and at the end, with their slopes.
   */
  private void reportTrend(String series, List<long[]> s) {
    double tEnd = s.get(s.size() - 1)[0] / 1000.0;
    double tHalf = (s.get(0)[0] / 1000.0 + tEnd) / 2;
    List<long[]> late = s.stream().filter(x -> x[0] / 1000.0 >= tHalf).toList();
    if (late.size() < 10) {
      return;
    }
    double[] t = late.stream().mapToDouble(x -> x[0] / 1000.0).toArray();
    double[] v = late.stream().mapToDouble(x -> x[1] / 1024.0).toArray();
    say(
        "    VmRSS slope over the second half (%.0f-%.0f s, %d samples, 10 time blocks): %s",
        tHalf, tEnd, late.size(), WorkerMemory.slope(t, v, 10));
    Map<String, List<double[]>> jvm = jvmSeries.getOrDefault(series, Map.of());
    if (jvm.isEmpty()) {
      return;
    }
    say("    JVM's view (MB; at the half -> last; slope over the second half, 6 blocks):");
    for (Map.Entry<String, List<double[]>> m : new java.util.TreeMap<>(jvm).entrySet()) {
      List<double[]> js = m.getValue().stream().filter(x -> x[0] >= tHalf).toList();
      if (js.size() < 6) {
        continue;
      }
      double first = js.get(0)[1];
      double last = js.get(js.size() - 1)[1];
      if (m.getKey().equals("Threads")
          || m.getKey().startsWith("nmt:") && !m.getKey().equals("nmt:Total") && last < 1) {
        continue;
      }
      say(
          "      %-28s %8.1f -> %8.1f  %s",
          m.getKey(),
          first,
          last,
          WorkerMemory.slope(
              js.stream().mapToDouble(x -> x[0]).toArray(),
              js.stream().mapToDouble(x -> x[1]).toArray(),
              6));
    }
  }

  private void sampleMemory() {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    long lastJvm = Long.MIN_VALUE / 2;
    while (reading) {
      boolean jvmNow =
          System.nanoTime() - lastJvm >= TimeUnit.SECONDS.toNanos(options.jvmSampleSeconds);
      if (jvmNow) {
        lastJvm = System.nanoTime();
      }
      for (Map.Entry<String, Process> w : workers.entrySet()) {
        Process p = w.getValue();
        if (!p.isAlive()) {
          continue;
        }
        String series = w.getKey() + " (pid " + p.pid() + ")";
        long ms = (System.nanoTime() - t0) / 1_000_000;
        Map<String, Long> proc = WorkerMemory.procStatus(p.pid());
        if (proc.containsKey("VmRSS")) {
          rssSeries
              .computeIfAbsent(series, k -> new CopyOnWriteArrayList<>())
              .add(new long[] {ms, proc.get("VmRSS")});
        }
        proc.forEach((k, v) -> csv(ms, w.getKey(), p.pid(), k, v));
        if (jvmNow) {
          Map<String, Long> jvm =
              new LinkedHashMap<>(WorkerMemory.jvm(jcmd, p.pid(), jcmdCommands));
          if (proc.containsKey("VmRSS")) {
            jvm.put("VmRSS", proc.get("VmRSS"));
            jvm.put("Threads", proc.get("Threads"));
            if (jvm.containsKey("nmt:Total")) {
              jvm.put("VmRSS - nmt:Total", proc.get("VmRSS") - jvm.get("nmt:Total"));
            }
          }
          long at = (System.nanoTime() - t0) / 1_000_000;
          jvm.forEach(
              (k, v) -> {
                if (!k.equals("VmRSS") && !k.equals("Threads")) {
                  csv(at, w.getKey(), p.pid(), k, v);
                }
                jvmSeries
                    .computeIfAbsent(series, x -> new ConcurrentHashMap<>())
                    .computeIfAbsent(k, x -> new CopyOnWriteArrayList<>())
                    .add(new double[] {at / 1000.0, v / 1024.0});
              });
        }
      }
      try {
        Thread.sleep(options.sampleSeconds * 1000L);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private void csv(long ms, String worker, long pid, String metric, long kb) {
    memoryCsv.printf(Locale.ROOT, "%.1f,%s,%d,%s,%d%n", ms / 1000.0, worker, pid, metric, kb);
  }

  private Thread reader(
      String topic, java.util.function.Consumer<ConsumerRecord<byte[], byte[]>> sink) {
    KafkaConsumer<byte[], byte[]> c =
        new KafkaConsumer<>(
            Map.of(
                "bootstrap.servers",
                stack.bootstrapServers(),
                "group.id",
                "soak-" + java.util.UUID.randomUUID(),
                "enable.auto.commit",
                "false"),
            new ByteArrayDeserializer(),
            new ByteArrayDeserializer());
    Thread t =
        new Thread(
            () -> {
              try (c) {
                // Assigned, not subscribed: a rebalance would replay the topic to a subscriber
                // without committed offsets.
                List<TopicPartition> parts =
                    c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                        .map(pi -> new TopicPartition(topic, pi.partition()))
                        .toList();
                c.assign(parts);
                c.seekToBeginning(parts);
                while (reading) {
                  c.poll(Duration.ofMillis(200)).forEach(sink);
                }
              }
            },
            "soak-reader-" + topic);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private void startWorker(String id) throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    ProcessBuilder pb =
        new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx1g",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:NativeMemoryTracking=summary",
            "-Dperfusion.worker.testStepDelayMs=" + stepDelayMs,
            "-Dai.djl.offline=true",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.log.org.perfusionjobs.worker=info",
            "-Dorg.slf4j.simpleLogger.log.ai.djl.util.cuda=error",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-cp",
            System.getProperty("java.class.path"),
            "org.perfusionjobs.worker.WorkerMain");
    for (String o : options.workerJvm) {
      if (o.startsWith("all:") || o.startsWith(id + ":")) {
        pb.command().add(pb.command().size() - 3, o.substring(o.indexOf(':') + 1));
      }
    }
    Map<String, String> env = pb.environment();
    for (String o : options.workerEnv) {
      if (o.startsWith("all:") || o.startsWith(id + ":")) {
        String kv = o.substring(o.indexOf(':') + 1);
        env.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
      }
    }
    env.put("DJL_OFFLINE", "true");
    env.put("PERFUSION_KAFKA", stack.bootstrapServers());
    env.put("PERFUSION_REDIS", stack.redisUri());
    env.put("PERFUSION_MODEL", root.resolve("shared/testdata/sd-tiny-ref").toString());
    env.put("PERFUSION_COVARIANCE", covariance.toString());
    env.put("PERFUSION_TOPIC_PREFIX", topics.prefix());
    env.put("PERFUSION_WORKER_ID", id);
    env.put("PERFUSION_WORKER_HTTP_PORT", Integer.toString(port));
    env.put("PERFUSION_RENEW_INTERVAL_MS", "2000");
    env.put("PERFUSION_MAX_GENERATE_STEPS", Integer.toString(MAX_STEPS));
    pb.redirectErrorStream(true)
        .redirectOutput(
            ProcessBuilder.Redirect.appendTo(logs.resolve("worker-" + id + ".log").toFile()));
    workers.put(id, pb.start());
    ports.put(id, port);
  }

  private void awaitReady(String id) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    long deadline = System.nanoTime() + 180_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (!workers.get(id).isAlive()) {
        throw new IllegalStateException(
            "worker " + id + " died; see " + logs.resolve("worker-" + id + ".log"));
      }
      try {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + ports.get(id) + "/health/ready"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(250);
    }
    throw new IllegalStateException("worker " + id + " not ready after 180 s");
  }
}
