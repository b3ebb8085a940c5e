package org.perfusionjobs.gateway;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.perfusionjobs.infra.Topics;

/**
 * Gateway settings. {@code tokens} maps bearer tokens to tenants (from
 * {@code PERFUSION_TOKENS=token1:tenant1,token2:tenant2}).
 */
public record GatewayConfig(String bootstrapServers, String redisUri, Topics topics, int httpPort, Map<String, String> tokens, Duration blobTtl) {

  public GatewayConfig {
    tokens = Map.copyOf(tokens);
    if (tokens.isEmpty()) {
      throw new IllegalArgumentException("tokens: at least one bearer token must be configured");
    }
  }

  public static GatewayConfig from(Map<String, String> env) {
    Map<String, String> tokens = new HashMap<>();
    for (String pair : env.getOrDefault("PERFUSION_TOKENS", "").split(",")) {
      String[] kv = pair.strip().split(":");
      if (kv.length == 2) {
        tokens.put(kv[0], kv[1]);
      }
    }
    return new GatewayConfig(required(env, "PERFUSION_KAFKA"), required(env, "PERFUSION_REDIS"),
        new Topics(env.getOrDefault("PERFUSION_TOPIC_PREFIX", "perfusion.")),
        Integer.parseInt(env.getOrDefault("PERFUSION_GATEWAY_PORT", "8080")), tokens,
        Duration.ofSeconds(Long.parseLong(env.getOrDefault("PERFUSION_BLOB_TTL_SECONDS", "86400"))));
  }

  private static String required(Map<String, String> env, String key) {
    String v = env.get(key);
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException("setting " + key + " is missing");
    }
    return v;
  }
}
