package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.infra.TopicSetup;

/**
 * The renew and settle steps against a real 4.4 broker, without the model: a consumer that holds
 * one record and renews it for longer than the lock keeps it (nobody else gets it), acquires
 * nothing else meanwhile (the records queued behind it go to the other member at once, first
 * delivery), and its final ACCEPT is confirmed and final.
 *
 * <p>The same scenario with the RENEW carried by {@code poll()} (the worker's old loop) let the
 * holder acquire the two queued records unseen: the other member got them only when their locks ran
 * out (15 s later, delivery 2), and the holder's poll returned its stale copies (delivery 1) after
 * the ACCEPT: the double runs and lost jobs of issue 19.
 */
class RecordLockTest {
  static final int LOCK_MS = 15_000;

  static KafkaShareConsumer<byte[], byte[]> consumer(String bootstrap, String group) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("group.id", group);
    p.put("share.acknowledgement.mode", "explicit");
    p.put("share.acquire.mode", "record_limit");
    p.put("max.poll.records", "1");
    return new KafkaShareConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
  }

  @Test
  void aRenewedRecordStaysWithItsHolderAndNothingElseIsAcquiredMeanwhile() throws Exception {
    Topics topics = new Topics("lock.");
    try (LocalStack stack = LocalStack.start(topics)) {
      String group = "lock-test";
      TopicSetup.configureShareGroup(stack.bootstrapServers(), group, topics, 5);
      try (Admin admin = Admin.create(Map.of("bootstrap.servers", stack.bootstrapServers()))) {
        admin
            .incrementalAlterConfigs(
                Map.of(
                    new ConfigResource(ConfigResource.Type.GROUP, group),
                    List.of(
                        new AlterConfigOp(
                            new ConfigEntry(
                                "share.record.lock.duration.ms", Integer.toString(LOCK_MS)),
                            AlterConfigOp.OpType.SET))))
            .all()
            .get(30, TimeUnit.SECONDS);
      }
      try (Producer producer = new Producer(stack.bootstrapServers(), topics)) {
        for (int i = 0; i < 3; i++) {
          producer.raw(
              topics.generate(), "k" + i, null, null, ("r" + i).getBytes(StandardCharsets.UTF_8));
        }
      }
      List<String> seenByOther = new CopyOnWriteArrayList<>();
      AtomicBoolean stopOther = new AtomicBoolean();
      Thread other =
          new Thread(
              () -> {
                try (KafkaShareConsumer<byte[], byte[]> c =
                    consumer(stack.bootstrapServers(), group)) {
                  c.subscribe(List.of(topics.generate()));
                  while (!stopOther.get()) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) {
                      seenByOther.add(
                          r.offset()
                              + "@"
                              + r.deliveryCount().orElse((short) 0)
                              + "@"
                              + System.nanoTime());
                      c.acknowledge(r, AcknowledgeType.ACCEPT);
                      c.commitSync();
                    }
                  }
                }
              });
      try (KafkaShareConsumer<byte[], byte[]> holder = consumer(stack.bootstrapServers(), group)) {
        holder.subscribe(List.of(topics.generate()));
        ConsumerRecord<byte[], byte[]> first = null;
        long until = System.nanoTime() + 60_000_000_000L;
        while (first == null && System.nanoTime() < until) {
          for (ConsumerRecord<byte[], byte[]> r : holder.poll(Duration.ofMillis(200))) {
            first = r;
          }
        }
        assertNotNull(first, "the holder gets a record");
        assertEquals(0, first.offset());
        RecordLock lock = new RecordLock(holder, first, Duration.ofSeconds(2));
        other.start();
        long holdStart = System.nanoTime();
        int renewals = 0;
        // Hold it for 1.6 locks, renewing every 2 s.
        while (System.nanoTime() - holdStart < LOCK_MS * 1_600_000L) {
          Thread.sleep(2000);
          assertTrue(lock.renew(), "renewal " + (renewals + 1) + " confirmed");
          renewals++;
        }
        assertTrue(lock.settle(AcknowledgeType.ACCEPT), "ACCEPT confirmed");
        long end = System.nanoTime() + 3_000_000_000L;
        while (System.nanoTime() < end) {
          assertTrue(
              holder.poll(Duration.ofMillis(200)).isEmpty(),
              "the holder acquired nothing else, and its record does not come back");
        }
        Thread.sleep(LOCK_MS + 2000L - 3000L); // any lock it still held would have run out by now
        assertEquals(
            2,
            seenByOther.size(),
            "the other member got exactly the two queued records: " + seenByOther);
        for (String s : seenByOther) {
          String[] p = s.split("@");
          assertTrue(
              !p[0].equals("0"),
              "the renewed record never went to the other member: " + seenByOther);
          assertEquals(
              "1",
              p[1],
              "queued records reach the other member on their first delivery: " + seenByOther);
          assertTrue(
              Long.parseLong(p[2]) - holdStart < 10_000_000_000L,
              "at once, not after a lock ran out: " + seenByOther);
        }
        System.out.println(
            "held offset 0 for "
                + (System.nanoTime() - holdStart) / 1_000_000
                + " ms with "
                + renewals
                + " renewals; other member got "
                + seenByOther.size());
      } finally {
        stopOther.set(true);
        other.join(10_000);
      }
    }
  }
}
