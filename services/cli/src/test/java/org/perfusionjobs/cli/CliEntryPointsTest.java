package org.perfusionjobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.perfusionjobs.cli.CliRun.run;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.contracts.Headers;
import org.perfusionjobs.contracts.Schemas;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.perfusion.Covariance;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.testdata.TestData;

/**
 * Smoke tests of the entry points a user runs that had none: covariance, train resume, produce,
 * demo.
 */
class CliEntryPointsTest {
  @TempDir Path dir;

  static final Path TINY = TestData.sdTinyRef();
  static final Path REPO =
      Path.of(System.getProperty("perfusion.models", "../../models")).toAbsolutePath().getParent();
  static final Path WORLD = REPO.resolve("models/world-v2");

  /**
   * The Cinv file written by {@code covariance} is an inverse covariance: symmetric, and positive
   * definite (x'Cx > 0 for random x); generate then reads it through --covariance.
   */
  @Test
  void covarianceWritesASymmetricPositiveDefiniteInverse() throws Exception {
    Path cov = dir.resolve("cinv.safetensors");
    String[] r =
        run(
            "covariance",
            "--model",
            TINY.toString(),
            "--captions",
            REPO.resolve("config/captions/sd-tiny-ref.txt").toString(),
            "--out",
            cov.toString());
    assertEquals("0", r[0], r[2]);
    Covariance c = Covariance.load(cov);
    int n = c.dim();
    assertTrue(n > 0);
    Random rnd = new Random(5);
    for (int k = 0; k < 8; k++) {
      double[] x = new double[n];
      double[] y = new double[n];
      for (int i = 0; i < n; i++) {
        x[i] = rnd.nextGaussian();
        y[i] = rnd.nextGaussian();
      }
      double[] cx = c.apply(x);
      double[] cy = c.apply(y);
      assertTrue(dot(x, cx) > 0, "x' Cinv x > 0");
      // Symmetry: y' (Cinv x) == x' (Cinv y), to fp rounding.
      assertEquals(dot(y, cx), dot(x, cy), 1e-6 * Math.max(1, Math.abs(dot(y, cx))));
    }
  }

  /**
   * {@code train --checkpoint}: a run that resumes from the step-50 checkpoint runs only steps
   * 51-60 and ends at the same concept as the run that wrote it (within fp32 rounding of two
   * libtorch threads); a resume that lost the optimiser moments or the learned values would differ
   * by far more.
   */
  @Test
  void trainResumesFromItsCheckpointToTheSameConcept() throws Exception {
    Path images = WORLD.resolve("concepts/demo");
    Path cov = dir.resolve("cinv.safetensors");
    assertEquals(
        "0",
        run(
            "covariance",
            "--model",
            TINY.toString(),
            "--captions",
            REPO.resolve("config/captions/sd-tiny-ref.txt").toString(),
            "--out",
            cov.toString())[0]);
    Path ck = dir.resolve("state.bin");
    Path first = dir.resolve("first.safetensors");
    Path second = dir.resolve("second.safetensors");
    String[] common = {
      "train",
      "--model",
      TINY.toString(),
      "--images",
      images.toString(),
      "--word",
      "zwx",
      "--superclass",
      "car",
      "--steps",
      "60",
      "--batch",
      "1",
      "--accumulation",
      "1",
      "--seed",
      "3",
      "--checkpoint",
      ck.toString(),
      "--covariance",
      cov.toString()
    };
    String[] a = run(concat(common, "--out", first.toString()));
    assertEquals("0", a[0], a[2]);
    assertTrue(Files.isRegularFile(ck), "checkpoint written at step 50");
    String[] b = run(concat(common, "--out", second.toString()));
    assertEquals("0", b[0], b[2]);
    assertTrue(b[2].contains("resuming from " + ck + " at step 50"), b[2]);
    // It did only the last ten steps: a run from scratch would show steps 1-50 too.
    assertTrue(
        a[2].contains("] 1/60 ")
            && !b[2].contains("] 1/60 ")
            && !b[2].contains("] 50/60 ")
            && b[2].contains("] 60/60 "),
        b[2]);
    try (NDManager m = NDManager.newBaseManager();
        SafetensorsFile f1 = SafetensorsFile.open(first);
        SafetensorsFile f2 = SafetensorsFile.open(second)) {
      assertEquals(f1.tensors().keySet(), f2.tensors().keySet());
      for (String name : f1.tensors().keySet()) {
        NDArray x = f1.read(name, m);
        NDArray y = f2.read(name, m);
        float scale = Math.max(1e-3f, x.abs().max().getFloat());
        float diff = x.sub(y).abs().max().getFloat();
        assertTrue(
            diff <= 1e-4f * scale,
            name + ": max |resumed - uninterrupted| " + diff + " (scale " + scale + ")");
      }
    }
  }

  /**
   * {@code produce} sends each example event to its topic with the job id as key and the contract's
   * headers.
   */
  @Test
  void produceSendsTheExampleEventsWithKeysAndHeaders() throws Exception {
    Path file = REPO.resolve("config/examples/events.json");
    JsonNode expected = Schemas.json().readTree(file.toFile());
    String prefix = "cli-" + UUID.randomUUID().toString().substring(0, 6) + ".";
    Topics topics = new Topics(prefix);
    try (LocalStack stack = LocalStack.start(topics)) {
      String[] r =
          run(
              "produce",
              "--kafka",
              stack.bootstrapServers(),
              "--file",
              file.toString(),
              "--topic-prefix",
              prefix);
      assertEquals("0", r[0], r[2]);
      List<ConsumerRecord<String, byte[]>> got = new ArrayList<>();
      try (KafkaConsumer<String, byte[]> c =
          new KafkaConsumer<>(
              Map.of(
                  "bootstrap.servers",
                  stack.bootstrapServers(),
                  "group.id",
                  "t-" + UUID.randomUUID(),
                  "auto.offset.reset",
                  "earliest"),
              new StringDeserializer(),
              new ByteArrayDeserializer())) {
        c.subscribe(List.of(topics.generate(), topics.cancel()));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (got.size() < expected.size() && System.nanoTime() < deadline) {
          c.poll(Duration.ofMillis(200)).forEach(got::add);
        }
      }
      assertEquals(expected.size(), got.size(), "records received");
      for (JsonNode e : expected) {
        String schema = e.get("schema").asText();
        String topic = schema.equals(Schemas.CANCEL_REQUEST) ? topics.cancel() : topics.generate();
        String jobId = e.get("value").get("jobId").asText();
        ConsumerRecord<String, byte[]> rec =
            got.stream()
                .filter(x -> x.topic().equals(topic) && jobId.equals(x.key()))
                .findFirst()
                .orElseThrow(() -> new AssertionError(schema + " " + jobId));
        assertEquals(e.get("value"), Schemas.json().readTree(rec.value()));
        assertEquals(
            schema,
            new String(rec.headers().lastHeader(Headers.SCHEMA).value(), StandardCharsets.UTF_8));
        assertEquals(
            "1",
            new String(rec.headers().lastHeader(Headers.VERSION).value(), StandardCharsets.UTF_8));
      }
    }
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  private static String[] concat(String[] a, String... b) {
    String[] out = new String[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
