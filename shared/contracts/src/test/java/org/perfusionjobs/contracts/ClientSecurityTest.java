package org.perfusionjobs.contracts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kafka and Redis credentials from settings: passwords from files, never shown, and one-line errors
 * naming the setting. (Against a real broker and redis-server: ClientCredentialsTest in
 * services/gateway.)
 */
class ClientSecurityTest {
  @TempDir Path dir;

  @Test
  void passwordsComeFromFilesAndNeverShow() throws Exception {
    Path kafka = Files.writeString(dir.resolve("k"), "kafka-pw-1\n");
    Path redis = Files.writeString(dir.resolve("r"), "redis-pw-2");
    ClientSecurity s =
        ClientSecurity.from(
            Map.of(
                "PERFUSION_KAFKA_SECURITY_PROTOCOL", "sasl_ssl",
                "PERFUSION_KAFKA_SASL_MECHANISM", "scram-sha-512",
                "PERFUSION_KAFKA_USERNAME", "svc",
                "PERFUSION_KAFKA_PASSWORD_FILE", kafka.toString(),
                "PERFUSION_REDIS_PASSWORD_FILE", redis.toString(),
                "PERFUSION_REDIS_USERNAME", "gw"));
    assertEquals("kafka-pw-1", s.kafka().password().value());
    assertEquals("redis-pw-2", s.redis().password().value());
    assertFalse(s.toString().contains("kafka-pw-1"), s.toString());
    assertFalse(s.toString().contains("redis-pw-2"), s.toString());
    Map<String, String> p = s.kafka().clientProperties();
    assertEquals("SASL_SSL", p.get("security.protocol"));
    assertEquals("SCRAM-SHA-512", p.get("sasl.mechanism"));
    assertEquals(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"svc\""
            + " password=\"kafka-pw-1\";",
        p.get("sasl.jaas.config"));
    assertEquals("https", p.get("ssl.endpoint.identification.algorithm"));
  }

  @Test
  void noSettingsMeansPlaintext() {
    ClientSecurity s = ClientSecurity.from(Map.of());
    assertEquals(ClientSecurity.NONE, s);
    assertEquals(Map.of("security.protocol", "PLAINTEXT"), s.kafka().clientProperties());
    Map<String, String> c = KafkaConnection.plain("h:1").config(Map.of("acks", "all"));
    assertEquals(
        Map.of("bootstrap.servers", "h:1", "acks", "all", "security.protocol", "PLAINTEXT"), c);
  }

  @Test
  void badSettingsNameTheSetting() throws Exception {
    Path f = Files.writeString(dir.resolve("f"), "x");
    assertEquals(
        "settings PERFUSION_KAFKA_PASSWORD and PERFUSION_KAFKA_PASSWORD_FILE are both set; set"
            + " only one of them",
        error(
            Map.of(
                "PERFUSION_KAFKA_PASSWORD", "a", "PERFUSION_KAFKA_PASSWORD_FILE", f.toString())));
    assertTrue(
        error(Map.of("PERFUSION_REDIS_PASSWORD_FILE", dir.resolve("missing").toString()))
            .startsWith("setting PERFUSION_REDIS_PASSWORD_FILE: cannot read "));
    assertEquals(
        "setting PERFUSION_KAFKA_SASL_MECHANISM is missing with SASL_SSL; use PLAIN, SCRAM-SHA-256"
            + " or SCRAM-SHA-512",
        error(Map.of("PERFUSION_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")));
    assertTrue(
        error(
                Map.of(
                    "PERFUSION_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT",
                    "PERFUSION_KAFKA_SASL_MECHANISM", "PLAIN",
                    "PERFUSION_KAFKA_USERNAME", "u"))
            .startsWith("setting PERFUSION_KAFKA_PASSWORD is missing with SASL_PLAINTEXT"));
    assertTrue(
        error(Map.of("PERFUSION_KAFKA_USERNAME", "u"))
            .contains("need PERFUSION_KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT"));
    assertTrue(
        error(Map.of("PERFUSION_KAFKA_SECURITY_PROTOCOL", "TLS"))
            .startsWith("setting PERFUSION_KAFKA_SECURITY_PROTOCOL is 'TLS'"));
    assertEquals(
        "setting PERFUSION_REDIS_USERNAME needs PERFUSION_REDIS_PASSWORD (or"
            + " PERFUSION_REDIS_PASSWORD_FILE)",
        error(Map.of("PERFUSION_REDIS_USERNAME", "u")));
    assertTrue(
        error(Map.of("PERFUSION_REDIS_VERIFY_PEER", "maybe"))
            .startsWith("setting PERFUSION_REDIS_VERIFY_PEER is 'MAYBE'"));
  }

  private static String error(Map<String, String> env) {
    return assertThrows(IllegalArgumentException.class, () -> ClientSecurity.from(env))
        .getMessage();
  }
}
