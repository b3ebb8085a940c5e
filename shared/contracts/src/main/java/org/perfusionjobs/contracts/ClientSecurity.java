package org.perfusionjobs.contracts;

import java.util.Map;

/**
 * The credentials and TLS settings of a service's Kafka and Redis clients (issue 20): read from
 * config, never from code, and safe to log ({@link Secret}s print redacted).
 */
public record ClientSecurity(KafkaSecurity kafka, RedisSecurity redis) {
  public static final ClientSecurity NONE =
      new ClientSecurity(KafkaSecurity.NONE, RedisSecurity.NONE);

  public ClientSecurity {
    kafka = kafka != null ? kafka : KafkaSecurity.NONE;
    redis = redis != null ? redis : RedisSecurity.NONE;
  }

  public static ClientSecurity from(Map<String, String> env) {
    return new ClientSecurity(KafkaSecurity.from(env), RedisSecurity.from(env));
  }
}
