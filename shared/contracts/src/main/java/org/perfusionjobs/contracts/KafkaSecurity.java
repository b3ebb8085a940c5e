package org.perfusionjobs.contracts;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * How every Kafka client of the worker, gateway and CLI authenticates and encrypts: SASL (PLAIN,
 * SCRAM-SHA-256, SCRAM-SHA-512) and TLS, from {@code PERFUSION_KAFKA_*} settings
 * (config/README.md). {@link KafkaConnection#config} adds these properties to every client, so no
 * client is built without them. Passwords are {@link Secret}s: {@link #toString} never shows them.
 *
 * @param protocol {@code security.protocol}: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
 * @param saslMechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL protocols only)
 * @param username SASL user (SASL protocols only)
 * @param password SASL password (SASL protocols only)
 * @param trustStore CA certificates to trust (TLS protocols; null: the JVM's)
 * @param trustStoreType PEM, PKCS12 or JKS
 * @param trustStorePassword password of a PKCS12/JKS trust store
 * @param keyStore client certificate and key for mutual TLS (null: none)
 * @param keyStoreType PEM, PKCS12 or JKS
 * @param keyStorePassword password of the key store
 * @param verifyHostname check that the broker's certificate names the host connected to
 */
public record KafkaSecurity(
    String protocol,
    String saslMechanism,
    String username,
    Secret password,
    Path trustStore,
    String trustStoreType,
    Secret trustStorePassword,
    Path keyStore,
    String keyStoreType,
    Secret keyStorePassword,
    boolean verifyHostname) {

  // Before NONE: its constructor checks against them.
  private static final Set<String> PROTOCOLS =
      Set.of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL");
  private static final Set<String> MECHANISMS = Set.of("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512");

  /** Plaintext, no authentication: the local stack and tests. */
  public static final KafkaSecurity NONE =
      new KafkaSecurity("PLAINTEXT", null, null, null, null, null, null, null, null, null, true);

  public KafkaSecurity {
    if (!PROTOCOLS.contains(protocol)) {
      throw new IllegalArgumentException(
          "setting PERFUSION_KAFKA_SECURITY_PROTOCOL is '"
              + protocol
              + "'; use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL");
    }
    boolean sasl = protocol.startsWith("SASL_");
    boolean tls = protocol.endsWith("SSL");
    if (sasl) {
      if (saslMechanism == null || !MECHANISMS.contains(saslMechanism)) {
        throw new IllegalArgumentException(
            "setting PERFUSION_KAFKA_SASL_MECHANISM is "
                + (saslMechanism == null ? "missing" : "'" + saslMechanism + "'")
                + " with "
                + protocol
                + "; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
      }
      if (username == null || username.isBlank() || password == null) {
        throw new IllegalArgumentException(
            "setting "
                + (username == null || username.isBlank()
                    ? "PERFUSION_KAFKA_USERNAME"
                    : "PERFUSION_KAFKA_PASSWORD")
                + " is missing with "
                + protocol
                + "; set PERFUSION_KAFKA_USERNAME and PERFUSION_KAFKA_PASSWORD (or"
                + " PERFUSION_KAFKA_PASSWORD_FILE)");
      }
    } else if (saslMechanism != null || username != null || password != null) {
      throw new IllegalArgumentException(
          "settings PERFUSION_KAFKA_SASL_MECHANISM/USERNAME/PASSWORD need"
              + " PERFUSION_KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT, not "
              + protocol);
    }
    if (!tls && (trustStore != null || keyStore != null)) {
      throw new IllegalArgumentException(
          "settings PERFUSION_KAFKA_TRUSTSTORE/KEYSTORE need PERFUSION_KAFKA_SECURITY_PROTOCOL=SSL"
              + " or SASL_SSL, not "
              + protocol);
    }
    checkStore("PERFUSION_KAFKA_TRUSTSTORE", trustStore);
    checkStore("PERFUSION_KAFKA_KEYSTORE", keyStore);
  }

  private static void checkStore(String key, Path store) {
    if (store != null && !Files.isReadable(store)) {
      throw new IllegalArgumentException(
          "setting "
              + key
              + ": cannot read "
              + store
              + "; give a readable PEM, PKCS12 or JKS file");
    }
  }

  /** From {@code PERFUSION_KAFKA_*} settings; none set means {@link #NONE}. */
  public static KafkaSecurity from(Map<String, String> env) {
    String protocol =
        env.getOrDefault("PERFUSION_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
            .strip()
            .toUpperCase(Locale.ROOT);
    String mechanism = blankToNull(env.get("PERFUSION_KAFKA_SASL_MECHANISM"));
    Path trust = path(env.get("PERFUSION_KAFKA_TRUSTSTORE"));
    Path key = path(env.get("PERFUSION_KAFKA_KEYSTORE"));
    return new KafkaSecurity(
        protocol,
        mechanism == null ? null : mechanism.toUpperCase(Locale.ROOT),
        blankToNull(env.get("PERFUSION_KAFKA_USERNAME")),
        Secret.from(env, "PERFUSION_KAFKA_PASSWORD"),
        trust,
        storeType(env, "PERFUSION_KAFKA_TRUSTSTORE_TYPE", trust),
        Secret.from(env, "PERFUSION_KAFKA_TRUSTSTORE_PASSWORD"),
        key,
        storeType(env, "PERFUSION_KAFKA_KEYSTORE_TYPE", key),
        Secret.from(env, "PERFUSION_KAFKA_KEYSTORE_PASSWORD"),
        Boolean.parseBoolean(env.getOrDefault("PERFUSION_KAFKA_VERIFY_HOSTNAME", "true").strip()));
  }

  /** The client properties these settings stand for (empty for {@link #NONE}). */
  public Map<String, String> clientProperties() {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("security.protocol", protocol);
    if (protocol.startsWith("SASL_")) {
      p.put("sasl.mechanism", saslMechanism);
      String module =
          "PLAIN".equals(saslMechanism)
              ? "org.apache.kafka.common.security.plain.PlainLoginModule"
              : "org.apache.kafka.common.security.scram.ScramLoginModule";
      p.put(
          "sasl.jaas.config",
          module
              + " required username=\""
              + jaasQuote(username)
              + "\" password=\""
              + jaasQuote(password.value())
              + "\";");
    }
    if (protocol.endsWith("SSL")) {
      p.put("ssl.endpoint.identification.algorithm", verifyHostname ? "https" : "");
      if (trustStore != null) {
        p.put("ssl.truststore.location", trustStore.toString());
        p.put("ssl.truststore.type", trustStoreType);
        if (trustStorePassword != null) {
          p.put("ssl.truststore.password", trustStorePassword.value());
        }
      }
      if (keyStore != null) {
        p.put("ssl.keystore.location", keyStore.toString());
        p.put("ssl.keystore.type", keyStoreType);
        if (keyStorePassword != null) {
          p.put("ssl.keystore.password", keyStorePassword.value());
        }
      }
    }
    return p;
  }

  private static String jaasQuote(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"");
  }

  private static String storeType(Map<String, String> env, String key, Path store) {
    String t = blankToNull(env.get(key));
    if (t != null) {
      t = t.toUpperCase(Locale.ROOT);
      if (!Set.of("PEM", "PKCS12", "JKS").contains(t)) {
        throw new IllegalArgumentException(
            "setting " + key + " is '" + t + "'; use PEM, PKCS12 or JKS");
      }
      return t;
    }
    if (store == null) {
      return null;
    }
    String name = store.getFileName().toString().toLowerCase(Locale.ROOT);
    return name.endsWith(".jks")
        ? "JKS"
        : name.endsWith(".p12") || name.endsWith(".pfx") ? "PKCS12" : "PEM";
  }

  static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.strip();
  }

  private static Path path(String s) {
    return blankToNull(s) == null ? null : Path.of(s.strip());
  }
}
