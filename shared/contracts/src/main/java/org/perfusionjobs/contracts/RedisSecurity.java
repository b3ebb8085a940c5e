package org.perfusionjobs.contracts;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SslOptions;
import io.lettuce.core.SslVerifyMode;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.resource.ClientResources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * How the worker and gateway authenticate to Redis and encrypt the connection, from {@code
 * PERFUSION_REDIS_*} settings (config/README.md): AUTH with a password and optionally an ACL user,
 * TLS ({@code rediss://} or {@code PERFUSION_REDIS_TLS=true}) with peer verification against the
 * JVM's or a given PEM CA file. The password is a {@link Secret}: {@link #toString} never shows it.
 *
 * @param username ACL user (null: the default user)
 * @param password AUTH password (null: none)
 * @param tls connect over TLS even if the URI says {@code redis://}
 * @param verifyPeer FULL (certificate and host name), CA (certificate only) or NONE
 * @param caFile PEM CA certificates to trust (null: the JVM's trust store)
 */
public record RedisSecurity(
    String username, Secret password, boolean tls, String verifyPeer, Path caFile) {
  public static final RedisSecurity NONE = new RedisSecurity(null, null, false, "FULL", null);

  public RedisSecurity {
    verifyPeer = verifyPeer == null ? "FULL" : verifyPeer.toUpperCase(Locale.ROOT);
    if (!verifyPeer.equals("FULL") && !verifyPeer.equals("CA") && !verifyPeer.equals("NONE")) {
      throw new IllegalArgumentException(
          "setting PERFUSION_REDIS_VERIFY_PEER is '" + verifyPeer + "'; use FULL, CA or NONE");
    }
    if (username != null && password == null) {
      throw new IllegalArgumentException(
          "setting PERFUSION_REDIS_USERNAME needs PERFUSION_REDIS_PASSWORD (or"
              + " PERFUSION_REDIS_PASSWORD_FILE)");
    }
    if (caFile != null && !Files.isReadable(caFile)) {
      throw new IllegalArgumentException(
          "setting PERFUSION_REDIS_CA_FILE: cannot read " + caFile + "; give a PEM file");
    }
  }

  /** From {@code PERFUSION_REDIS_*} settings; none set means {@link #NONE}. */
  public static RedisSecurity from(Map<String, String> env) {
    String ca = KafkaSecurity.blankToNull(env.get("PERFUSION_REDIS_CA_FILE"));
    return new RedisSecurity(
        KafkaSecurity.blankToNull(env.get("PERFUSION_REDIS_USERNAME")),
        Secret.from(env, "PERFUSION_REDIS_PASSWORD"),
        Boolean.parseBoolean(env.getOrDefault("PERFUSION_REDIS_TLS", "false").strip()),
        KafkaSecurity.blankToNull(env.get("PERFUSION_REDIS_VERIFY_PEER")),
        ca == null ? null : Path.of(ca));
  }

  /** The URI {@code base} ({@code PERFUSION_REDIS}) with these credentials and TLS settings. */
  public RedisURI uri(String base, Duration timeout) {
    RedisURI parsed = RedisURI.create(base);
    RedisURI.Builder b = RedisURI.builder(parsed).withTimeout(timeout);
    if (password != null) {
      if (username != null) {
        b.withAuthentication(username, password.value());
      } else {
        b.withPassword(password.value().toCharArray());
      }
    }
    if (tls || parsed.isSsl()) {
      b.withSsl(true).withVerifyPeer(SslVerifyMode.valueOf(verifyPeer));
    }
    return b.build();
  }

  /** {@code options} with the trust material for TLS. */
  public ClientOptions options(ClientOptions.Builder options) {
    if (caFile != null) {
      options.sslOptions(
          SslOptions.builder().jdkSslProvider().trustManager(caFile.toFile()).build());
    }
    return options.build();
  }

  /** A Lettuce client for {@code base} with these settings ({@code resources} may be null). */
  public RedisClient client(
      ClientResources resources, String base, Duration timeout, ClientOptions.Builder options) {
    RedisURI uri = uri(base, timeout);
    RedisClient c =
        resources == null ? RedisClient.create(uri) : RedisClient.create(resources, uri);
    c.setOptions(options(options));
    return c;
  }

  /**
   * Connects and sends one PING, so that a refused login is reported at start, in one line naming
   * the settings, instead of as a NOAUTH on the first command.
   *
   * @throws IllegalStateException when Redis refuses the credentials or the TLS handshake
   */
  public <K, V> StatefulRedisConnection<K, V> connect(RedisClient client, RedisCodec<K, V> codec) {
    StatefulRedisConnection<K, V> c;
    try {
      c = client.connect(codec);
      c.sync().ping();
      return c;
    } catch (RuntimeException e) {
      String why = explain(e);
      if (why == null) {
        throw e;
      }
      throw new IllegalStateException(why, e);
    }
  }

  /** A one-line explanation of an authentication or TLS failure, or null for other failures. */
  public String explain(Throwable e) {
    StringBuilder all = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      all.append(' ').append(t.getMessage()).append(' ').append(t.getClass().getSimpleName());
    }
    String s = all.toString();
    if (s.contains("NOAUTH")) {
      return "Redis requires a password: set PERFUSION_REDIS_PASSWORD (or"
          + " PERFUSION_REDIS_PASSWORD_FILE), and PERFUSION_REDIS_USERNAME for an ACL user";
    }
    if (s.contains("WRONGPASS")
        || s.contains("invalid password")
        || s.contains("invalid username")) {
      return "Redis refused the login: check PERFUSION_REDIS_PASSWORD (or"
          + " PERFUSION_REDIS_PASSWORD_FILE)"
          + (username == null ? "" : " and PERFUSION_REDIS_USERNAME=" + username);
    }
    if (s.contains("SSLHandshake") || s.contains("PKIX") || s.contains("NotSslRecord")) {
      return "Redis TLS handshake failed: check PERFUSION_REDIS_TLS, PERFUSION_REDIS_CA_FILE and"
          + " PERFUSION_REDIS_VERIFY_PEER";
    }
    return null;
  }
}
