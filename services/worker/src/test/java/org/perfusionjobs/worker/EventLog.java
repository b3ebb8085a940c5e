package org.perfusionjobs.worker;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.RecordCodec;

/** Reads a topic from the beginning on a background thread, for assertions in tests. */
final class EventLog implements AutoCloseable {
  final List<ConsumerRecord<String, byte[]>> records = new CopyOnWriteArrayList<>();
  private final Thread thread;
  private volatile boolean running = true;

  EventLog(String bootstrap, String topic) {
    KafkaConsumer<String, byte[]> c =
        new KafkaConsumer<>(
            Map.of(
                "bootstrap.servers",
                bootstrap,
                "group.id",
                "test-" + UUID.randomUUID(),
                "auto.offset.reset",
                "earliest",
                "enable.auto.commit",
                "false"),
            new StringDeserializer(),
            new ByteArrayDeserializer());
    thread =
        new Thread(
            () -> {
              try (c) {
                // Assigned, not subscribed: a group rebalance (after a broker restart, say) would
                // restart a
                // subscriber with no committed offset from the beginning and show every record
                // twice.
                List<org.apache.kafka.common.TopicPartition> parts = new ArrayList<>();
                c.partitionsFor(topic, Duration.ofSeconds(30))
                    .forEach(
                        p ->
                            parts.add(
                                new org.apache.kafka.common.TopicPartition(topic, p.partition())));
                c.assign(parts);
                c.seekToBeginning(parts);
                while (running) {
                  c.poll(Duration.ofMillis(100)).forEach(records::add);
                }
              }
            },
            "event-log-" + topic);
    thread.setDaemon(true);
    thread.start();
  }

  List<JobEvent> events(String jobId) {
    List<JobEvent> out = new ArrayList<>();
    for (ConsumerRecord<String, byte[]> r : records) {
      if (jobId.equals(r.key())) {
        try {
          out.add(RecordCodec.read(r.value(), JobEvent.class));
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    return out;
  }

  /** Waits until an event of the job matches, or fails after the timeout. */
  JobEvent await(String jobId, Predicate<JobEvent> p, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      for (JobEvent e : events(jobId)) {
        if (p.test(e)) {
          return e;
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError(
        "no matching event for " + jobId + " within " + timeout + "; saw " + events(jobId));
  }

  JobEvent awaitTerminal(String jobId, Duration timeout) throws InterruptedException {
    return await(jobId, JobEvent::terminal, timeout);
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    thread.join(5000);
  }
}
