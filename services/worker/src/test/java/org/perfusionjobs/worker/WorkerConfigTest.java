package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Settings read from PERFUSION_* keys land in the field their documentation names. */
class WorkerConfigTest {
  private static final Map<String, String> ENV =
      Map.ofEntries(
          Map.entry("PERFUSION_KAFKA", "127.0.0.1:9092"),
          Map.entry("PERFUSION_REDIS", "redis://127.0.0.1:6379"),
          Map.entry("PERFUSION_MODEL", "models/world-v2"),
          Map.entry("PERFUSION_TOPIC_PREFIX", "t."),
          Map.entry("PERFUSION_WORKER_ID", "w7"),
          Map.entry("PERFUSION_GROUP", "g"),
          Map.entry("PERFUSION_PRECISION", "fp16"),
          Map.entry("PERFUSION_DEVICE", "gpu"),
          Map.entry("PERFUSION_BLOB_TTL_SECONDS", "60"),
          Map.entry("PERFUSION_PROGRESS_INTERVAL_MS", "125"),
          Map.entry("PERFUSION_PREVIEW_EVERY", "3"),
          Map.entry("PERFUSION_RENEW_INTERVAL_MS", "2000"),
          Map.entry("PERFUSION_WORKER_HTTP_PORT", "8099"),
          Map.entry("PERFUSION_URL_ALLOW_LIST", " https://a.example/ ,,https://b.example/x/"),
          Map.entry("PERFUSION_CHECKPOINT_EVERY", "7"),
          Map.entry("PERFUSION_COVARIANCE", "c.safetensors"),
          Map.entry("PERFUSION_CAPTIONS", "caps.txt"),
          Map.entry("PERFUSION_FETCH_PRIVATE_ADDRESSES", "true"),
          Map.entry("PERFUSION_FETCH_DEADLINE_MS", "3000"),
          Map.entry("PERFUSION_FETCH_MAX_BYTES", "1000"),
          Map.entry("PERFUSION_OUTAGE_WAIT_MS", "45000"),
          Map.entry("PERFUSION_MAX_BATCH", "2"),
          Map.entry("PERFUSION_BATCH_WAIT_MS", "40"));

  @Test
  void everyKeyReachesItsField() {
    WorkerConfig c = WorkerConfig.from(ENV);
    assertEquals("127.0.0.1:9092", c.bootstrapServers());
    assertEquals("redis://127.0.0.1:6379", c.redisUri());
    assertEquals(Path.of("models/world-v2"), c.modelDir());
    assertTrue(c.topics().generate().startsWith("t."), c.topics().generate());
    assertEquals("w7", c.workerId());
    assertEquals("g", c.groupId());
    assertEquals("fp16", c.precision());
    assertEquals("gpu", c.device());
    assertEquals(Duration.ofSeconds(60), c.blobTtl());
    assertEquals(Duration.ofMillis(125), c.progressInterval());
    assertEquals(3, c.previewEvery());
    assertEquals(Duration.ofMillis(2000), c.renewInterval());
    assertEquals(8099, c.httpPort());
    assertEquals(List.of("https://a.example/", "https://b.example/x/"), c.urlAllowList());
    assertEquals(7, c.checkpointEvery());
    assertEquals(Path.of("c.safetensors"), c.covariance());
    assertEquals(Path.of("caps.txt"), c.captions());
    assertTrue(c.limits().fetchPrivateAddresses());
    assertEquals(Duration.ofMillis(3000), c.limits().fetchDeadline());
    assertEquals(1000, c.limits().fetchMaxBytes());
    assertEquals(Duration.ofMillis(45000), c.outageWait());
    assertEquals(new WorkerConfig.Batching(2, Duration.ofMillis(40)), c.batching());
  }

  @Test
  void aCopyChangesOnlyWhatItNames() {
    WorkerConfig c = WorkerConfig.from(ENV);
    assertEquals(c, c.toBuilder().build());
    WorkerConfig later = c.withOutageWait(Duration.ofSeconds(5));
    assertEquals(Duration.ofSeconds(5), later.outageWait());
    assertNotEquals(c, later);
    assertEquals(c, later.withOutageWait(c.outageWait()));
    assertEquals("w8", c.withWorkerId("w8").workerId());
    assertEquals(c.batching(), c.withWorkerId("w8").batching());
  }

  @Test
  void aMissingRequiredSettingIsNamed() {
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> WorkerConfig.from(Map.of("PERFUSION_KAFKA", "x", "PERFUSION_MODEL", "m")));
    assertEquals("setting PERFUSION_REDIS is missing", e.getMessage());
  }
}
