package org.perfusionjobs.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;

/**
 * Readiness follows Redis and the broker: 503 naming what is down while it is down, 200 again
 * after.
 */
class GatewayReadinessTest {
  static final HttpClient HTTP = HttpClient.newHttpClient();

  @Test
  void readinessReportsARedisOutageAndItsEnd() throws Exception {
    try (LocalStack stack = LocalStack.start(new Topics("ready."))) {
      Vertx vertx = Vertx.vertx();
      try {
        GatewayVerticle gateway =
            new GatewayVerticle(
                new GatewayConfig(
                    stack.bootstrapServers(),
                    stack.redisUri(),
                    new Topics("ready."),
                    0,
                    Map.of("t", "acme"),
                    Duration.ofHours(1)));
        vertx.deployVerticle(gateway).await();
        String url = "http://127.0.0.1:" + gateway.port() + "/health/ready";
        assertEquals("200 ready", probe(url));

        stack.redis().stop();
        // Lettuce reconnects in the background; the probe must answer within its own deadline
        // meanwhile.
        long t0 = System.nanoTime();
        String down = probe(url);
        assertEquals("503 not ready: redis unreachable", down);
        assertTrue(
            System.nanoTime() - t0 < Duration.ofSeconds(10).toNanos(),
            "answered within the probe deadline");

        stack.redis().startAgain();
        String up = "";
        for (long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            System.nanoTime() < deadline && !up.equals("200 ready"); ) {
          Thread.sleep(500);
          up = probe(url);
        }
        assertEquals("200 ready", up);

        stack.kafka().close();
        assertEquals("503 not ready: kafka unreachable", probe(url));
      } finally {
        vertx.close().await();
      }
    }
  }

  private static String probe(String url) throws Exception {
    HttpResponse<String> r =
        HTTP.send(
            HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(15)).build(),
            HttpResponse.BodyHandlers.ofString());
    return r.statusCode() + " " + r.body();
  }
}
