package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.contracts.Topics;
import org.perfusionjobs.infra.LocalStack;
import org.perfusionjobs.infra.TopicSetup;

/**
 * The head-of-line defect behind JobIntake's release of held-back records, on a real 4.4 broker: a
 * record that a busy member's fetch acquired waits in that member's buffer, locked, while an idle
 * member polls in vain; a zero poll after the busy member's ACCEPT returns it from the buffer, and
 * releasing it hands it to the idle member at once (delivery 2). The record is put in the buffer
 * the way RecordLockTest describes (a RENEW carried by {@code poll()} also fetches).
 */
class HeldBackRecordsTest {

  @Test
  void onlyTheFirstTwoDeliveriesAreReleasedSoThreeOfTheLimitOfFiveStay() {
    assertTrue(HeldBackRecords.release(1));
    assertTrue(HeldBackRecords.release(2));
    assertFalse(HeldBackRecords.release(3));
    assertFalse(HeldBackRecords.release(5));
  }

  @Test
  void aRecordHeldInABusyMembersBufferReachesTheIdleMemberOnceReleased() throws Exception {
    Topics topics = new Topics("held.");
    try (LocalStack stack = LocalStack.start(topics)) {
      String group = "held-test";
      TopicSetup.configureShareGroup(stack.bootstrapServers(), group, topics, 5);
      try (Producer producer = new Producer(stack.bootstrapServers(), topics)) {
        for (int i = 0; i < 2; i++) {
          producer.raw(
              topics.generate(), "k" + i, null, null, ("r" + i).getBytes(StandardCharsets.UTF_8));
        }
      }
      List<String> seenByIdle = new CopyOnWriteArrayList<>();
      AtomicBoolean stopIdle = new AtomicBoolean();
      Thread idle =
          new Thread(
              () -> {
                try (KafkaShareConsumer<byte[], byte[]> c =
                    RecordLockTest.consumer(stack.bootstrapServers(), group)) {
                  c.subscribe(List.of(topics.generate()));
                  while (!stopIdle.get()) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) {
                      seenByIdle.add(r.offset() + "@" + r.deliveryCount().orElse((short) 0));
                      c.acknowledge(r, AcknowledgeType.ACCEPT);
                      c.commitSync();
                    }
                  }
                }
              });
      try (KafkaShareConsumer<byte[], byte[]> busy =
          RecordLockTest.consumer(stack.bootstrapServers(), group)) {
        busy.subscribe(List.of(topics.generate()));
        ConsumerRecord<byte[], byte[]> job = poll(busy, 0, Duration.ofSeconds(60));
        assertNotNull(job, "the busy member gets the first record");
        // The job's renewal, carried by poll(): the same poll fetches the queued record too.
        busy.acknowledge(job, AcknowledgeType.RENEW);
        job = poll(busy, 0, Duration.ofSeconds(10));
        assertNotNull(job, "the renewed record comes back");
        idle.start();
        Thread.sleep(4000);
        assertEquals(
            List.of(),
            seenByIdle,
            "while the busy member holds its job, the queued record waits in its buffer");
        busy.acknowledge(job, AcknowledgeType.ACCEPT);
        busy.commitSync();
        ConsumerRecords<byte[], byte[]> buffered = busy.poll(Duration.ZERO);
        assertEquals(1, buffered.count(), "a zero poll after the job returns the held record");
        ConsumerRecord<byte[], byte[]> held = buffered.iterator().next();
        assertEquals(1, held.offset());
        int delivery = held.deliveryCount().orElse((short) 1);
        assertTrue(HeldBackRecords.release(delivery), "delivery " + delivery + " is released");
        // As the intake does: release it and close the consumer. Released with commitSync and the
        // consumer kept, the record went straight back to the busy member's own pending fetch, four
        // times in a row, and never reached the idle one; leaving the group hands it on.
        busy.acknowledge(held, AcknowledgeType.RELEASE);
        busy.close();
        long closed = System.nanoTime();
        long until = closed + 10_000_000_000L;
        while (seenByIdle.isEmpty() && System.nanoTime() < until) {
          Thread.sleep(20);
        }
        assertEquals(List.of("1@2"), seenByIdle, "the idle member runs it, on its second delivery");
        assertTrue(
            System.nanoTime() - closed < 5_000_000_000L,
            "within 5 s of the release: " + (System.nanoTime() - closed) / 1_000_000 + " ms");
      } finally {
        stopIdle.set(true);
        idle.join(10_000);
      }
    }
  }

  /** Polls until the record at {@code offset} arrives; null after {@code within}. */
  private static ConsumerRecord<byte[], byte[]> poll(
      KafkaShareConsumer<byte[], byte[]> c, long offset, Duration within) {
    long until = System.nanoTime() + within.toNanos();
    while (System.nanoTime() < until) {
      for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
        if (r.offset() == offset) {
          return r;
        }
        throw new AssertionError("unexpected record at offset " + r.offset());
      }
    }
    return null;
  }
}
