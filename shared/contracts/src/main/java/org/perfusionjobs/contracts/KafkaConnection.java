package org.perfusionjobs.contracts;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

/**
 * Where and how to reach Kafka: the one place every Kafka client of the worker, gateway and CLI
 * (producers, consumers, share consumers, admin clients) takes its settings from, so none is built
 * without the cluster's SASL/TLS settings.
 *
 * @param bootstrapServers {@code PERFUSION_KAFKA}
 * @param security {@code PERFUSION_KAFKA_*} credentials and TLS
 */
public record KafkaConnection(String bootstrapServers, KafkaSecurity security) {
  public KafkaConnection {
    Objects.requireNonNull(bootstrapServers, "bootstrapServers");
    security = security != null ? security : KafkaSecurity.NONE;
  }

  /** Plaintext, unauthenticated: the local stack and tests. */
  public static KafkaConnection plain(String bootstrapServers) {
    return new KafkaConnection(bootstrapServers, KafkaSecurity.NONE);
  }

  /** A client's configuration: its own settings, the bootstrap servers and the security ones. */
  public Map<String, String> config(Map<String, String> own) {
    Map<String, String> m = new HashMap<>(own);
    m.put("bootstrap.servers", bootstrapServers);
    m.putAll(security.clientProperties());
    return m;
  }

  /** {@link #config} for clients that take objects (admin clients). */
  public Map<String, Object> objectConfig(Map<String, ?> own) {
    Map<String, Object> m = new HashMap<>(own);
    m.put("bootstrap.servers", bootstrapServers);
    m.putAll(security.clientProperties());
    return m;
  }

  /** {@link #config} as {@link Properties}. */
  public Properties properties(Map<String, String> own) {
    Properties p = new Properties();
    p.putAll(config(own));
    return p;
  }
}
