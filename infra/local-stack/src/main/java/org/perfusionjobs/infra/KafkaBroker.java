package org.perfusionjobs.infra;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;

/**
 * A real Apache Kafka 4.4 broker in KRaft combined mode (broker + controller), run as a child JVM
 * on its own classpath, listening on 127.0.0.1 only. The classpath folder comes from the {@code
 * infra/kafka-dist} module ({@code target/lib}); set {@code perfusion.kafka.lib} or {@code
 * PERFUSION_KAFKA_LIB} to use another.
 */
public final class KafkaBroker implements AutoCloseable {
  private final Path dir;
  private final int port;
  private final List<String> command;
  private volatile Process process;

  private final int securedPort;
  private final int tlsPort;

  /**
   * Listeners that authenticate clients (tests of the services' SASL/TLS settings): SASL_PLAINTEXT,
   * and SASL_SSL when a key store is given. The PLAINTEXT listener stays for the broker itself and
   * for setting up SCRAM users. Mechanisms: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.
   *
   * @param plainUsers user to password for SASL/PLAIN (SCRAM users: {@link #addScramUser})
   * @param keyStore PKCS12 key store with the broker's certificate (null: no SASL_SSL listener)
   * @param keyStorePassword its password
   */
  public record Secured(Map<String, String> plainUsers, Path keyStore, String keyStorePassword) {}

  private KafkaBroker(
      Path dir, int port, int securedPort, int tlsPort, List<String> command, Process process) {
    this.tlsPort = tlsPort;
    this.dir = dir;
    this.port = port;
    this.securedPort = securedPort;
    this.command = command;
    this.process = process;
  }

  /** Formats a fresh log directory, starts the broker on a free port and waits until it answers. */
  public static KafkaBroker start() throws IOException {
    return start(0);
  }

  /** As {@link #start()}, on {@code port} (0: a free one). */
  public static KafkaBroker start(int fixedPort) throws IOException {
    return start(fixedPort, null);
  }

  /** As {@link #start(int)}, with a second, authenticating listener ({@code secured} non-null). */
  public static KafkaBroker start(int fixedPort, Secured secured) throws IOException {
    Path lib = libDir();
    Path dir = Files.createTempDirectory("perfusion-kafka");
    int port = fixedPort > 0 ? fixedPort : FreePorts.next();
    int controllerPort = FreePorts.next();
    int securedPort = secured == null ? -1 : FreePorts.next();
    int tlsPort = secured == null || secured.keyStore() == null ? -1 : FreePorts.next();
    String extraListener =
        (securedPort < 0 ? "" : ",SASL_PLAINTEXT://127.0.0.1:" + securedPort)
            + (tlsPort < 0 ? "" : ",SASL_SSL://127.0.0.1:" + tlsPort);
    Path props = dir.resolve("server.properties");
    Files.writeString(
        props,
        String.join(
            "\n",
            "process.roles=broker,controller",
            "node.id=1",
            "controller.quorum.voters=1@127.0.0.1:" + controllerPort,
            "listeners=PLAINTEXT://127.0.0.1:"
                + port
                + extraListener
                + ",CONTROLLER://127.0.0.1:"
                + controllerPort,
            "advertised.listeners=PLAINTEXT://127.0.0.1:" + port + extraListener,
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
                + (securedPort < 0 ? "" : ",SASL_PLAINTEXT:SASL_PLAINTEXT")
                + (tlsPort < 0 ? "" : ",SASL_SSL:SASL_SSL"),
            securedSettings(secured),
            "log.dirs=" + dir.resolve("data"),
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=3",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            // Jobs renew their record locks while they run; the maximum bounds how long a frozen
            // worker holds one.
            "group.share.max.record.lock.duration.ms=60000",
            "group.share.record.lock.duration.ms=30000",
            ""));
    String cp = lib.resolve("*").toString();
    Path log = dir.resolve("broker.log");
    run(
        List.of(
            ChildProcesses.javaBinary(),
            "-cp",
            cp,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            Uuid.randomUuid().toString(),
            "-c",
            props.toString()),
        dir.resolve("format.log"),
        60);
    List<String> cmd =
        new ArrayList<>(
            List.of(
                ChildProcesses.javaBinary(),
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp",
                cp,
                "kafka.Kafka",
                props.toString()));
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    KafkaBroker broker = new KafkaBroker(dir, port, securedPort, tlsPort, List.copyOf(cmd), p);
    try {
      broker.awaitReady(Duration.ofSeconds(90), log);
    } catch (IOException | RuntimeException e) {
      broker.close();
      throw e;
    }
    return broker;
  }

  private static Path libDir() throws IOException {
    String configured =
        System.getProperty("perfusion.kafka.lib", System.getenv("PERFUSION_KAFKA_LIB"));
    Path lib = configured != null ? Path.of(configured) : Path.of("infra/kafka-dist/target/lib");
    if (!Files.isDirectory(lib)
        || !Files.list(lib).anyMatch(f -> f.getFileName().toString().startsWith("kafka_2.13"))) {
      throw new IOException(
          "no Kafka broker classpath at "
              + lib.toAbsolutePath()
              + ": build it with `mvn -pl infra/kafka-dist package` (or set perfusion.kafka.lib)");
    }
    return lib;
  }

  private static void run(List<String> cmd, Path log, long timeoutSeconds) throws IOException {
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException(
            "command failed: "
                + String.join(" ", cmd.subList(3, cmd.size()))
                + "\n"
                + ChildProcesses.tail(log, 20));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  private void awaitReady(Duration timeout, Path log) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (Admin admin =
        Admin.create(
            Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                bootstrapServers(),
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG,
                2000,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG,
                3000))) {
      while (System.nanoTime() < deadline) {
        if (!process.isAlive()) {
          throw new IOException(
              "Kafka broker exited with "
                  + process.exitValue()
                  + ":\n"
                  + ChildProcesses.tail(log, 30));
        }
        try {
          admin.describeCluster().nodes().get(3, TimeUnit.SECONDS);
          return;
        } catch (Exception notYet) {
          Thread.sleep(200);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for Kafka", e);
    }
    throw new IOException(
        "Kafka broker not ready after "
            + timeout.toSeconds()
            + " s:\n"
            + ChildProcesses.tail(log, 30));
  }

  public String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  /** The authenticating listener's address (a broker started with {@link Secured}). */
  public String securedBootstrapServers() {
    if (securedPort < 0) {
      throw new IllegalStateException("this broker was started without a secured listener");
    }
    return "127.0.0.1:" + securedPort;
  }

  /** The SASL_SSL listener's address (a broker started with a {@link Secured} key store). */
  public String tlsBootstrapServers() {
    if (tlsPort < 0) {
      throw new IllegalStateException("this broker was started without a TLS listener");
    }
    return "127.0.0.1:" + tlsPort;
  }

  /** Adds a SCRAM user (SCRAM-SHA-256 or SCRAM-SHA-512), through the PLAINTEXT listener. */
  public void addScramUser(String mechanism, String user, String password) throws IOException {
    try (Admin admin =
        Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers()))) {
      admin
          .alterUserScramCredentials(
              List.of(
                  new org.apache.kafka.clients.admin.UserScramCredentialUpsertion(
                      user,
                      new org.apache.kafka.clients.admin.ScramCredentialInfo(
                          org.apache.kafka.clients.admin.ScramMechanism.fromMechanismName(
                              mechanism),
                          4096),
                      password)))
          .all()
          .get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IOException("cannot add SCRAM user " + user + ": " + e.getMessage(), e);
    }
  }

  private static String securedSettings(Secured s) {
    if (s == null) {
      return "";
    }
    StringBuilder users = new StringBuilder();
    s.plainUsers()
        .forEach((u, pw) -> users.append(" user_").append(u).append("=\"").append(pw).append('"'));
    List<String> lines = new ArrayList<>();
    lines.add("sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512");
    for (String name : List.of("listener.name.sasl_plaintext.", "listener.name.sasl_ssl.")) {
      lines.add(
          name
              + "plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule"
              + " required"
              + users
              + ";");
      for (String m : List.of("scram-sha-256", "scram-sha-512")) {
        lines.add(
            name
                + m
                + ".sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule"
                + " required;");
      }
    }
    if (s.keyStore() != null) {
      String name = "listener.name.sasl_ssl.";
      lines.add(name + "ssl.keystore.location=" + s.keyStore());
      lines.add(name + "ssl.keystore.type=PKCS12");
      lines.add(name + "ssl.keystore.password=" + s.keyStorePassword());
    }
    return String.join("\n", lines);
  }

  public boolean isRunning() {
    return process.isAlive();
  }

  /**
   * Stops the broker process and keeps its log directory (for outage tests): {@link #startAgain}
   * brings it back on the same port with the same data, as a restarted broker would be.
   *
   * @param kill SIGKILL at once (a crash) instead of SIGTERM (a clean shutdown, SIGKILL after 20 s)
   */
  public void stop(boolean kill) {
    if (kill) {
      process.destroyForcibly();
      try {
        process.waitFor(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    } else {
      ChildProcesses.stop(process, 20);
    }
  }

  /**
   * Starts the stopped broker again on the same port and log directory, and waits until it answers.
   */
  public void startAgain() throws IOException {
    if (process.isAlive()) {
      throw new IllegalStateException("the broker is running");
    }
    Path log = dir.resolve("broker.log");
    // Appends: the log of the first run stays readable.
    process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    awaitReady(Duration.ofSeconds(90), log);
  }

  /** Stops the broker (SIGTERM, then SIGKILL after 20 s) and deletes its data. */
  @Override
  public void close() {
    ChildProcesses.stop(process, 20);
    ChildProcesses.deleteTree(dir);
  }
}
