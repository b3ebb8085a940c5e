package org.perfusionjobs.worker;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.OffsetAndMetadata;
import java.time.Duration;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.perfusionjobs.contracts.FieldError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reports the records the broker archived after the share group's delivery limit (a job that
 * crashed every worker, or whose locks kept running out): they reach the broker's dead-letter topic
 * ({@code dlq.<prefix>jobs}) without any worker seeing them fail, so here they get their one {@code
 * failed} event, to the request's tenant (or {@code unknown}). A job whose claim says it succeeded,
 * or that another record of the same job runs now, is not reported. All workers share one consumer
 * group, so each archived record is reported by one worker; a crash between the event and the
 * offset commit reports it again, with a higher seq.
 */
final class ArchiveWatcher {
  private static final Logger LOG = LoggerFactory.getLogger(ArchiveWatcher.class);
  private KafkaConsumer<byte[], byte[]> consumer;
  private volatile boolean running = true;

  Future<Void> start(Vertx vertx, WorkerConfig cfg, JobClaims claims, EventPublisher publisher) {
    consumer =
        KafkaConsumer.create(
            vertx,
            cfg.kafka()
                .config(
                    Map.of(
                        "group.id", cfg.groupId() + "-archived",
                        "auto.offset.reset", "earliest",
                        "enable.auto.commit", "false",
                        "key.deserializer",
                            "org.apache.kafka.common.serialization.ByteArrayDeserializer",
                        "value.deserializer",
                            "org.apache.kafka.common.serialization.ByteArrayDeserializer")));
    consumer.pollTimeout(Duration.ofMillis(100));
    consumer.handler(
        r -> {
          ConsumerRecord<byte[], byte[]> record = r.record();
          // Redis and the awaited publish block: off the event loop, one record after another
          // (ordered).
          vertx
              .executeBlocking(
                  () -> {
                    report(record, cfg, claims, publisher);
                    return null;
                  })
              .compose(
                  v ->
                      consumer.commit(
                          Map.of(
                              new TopicPartition(record.topic(), record.partition()),
                              new OffsetAndMetadata(record.offset() + 1, ""))))
              .onFailure(
                  e ->
                      LOG.warn(
                          "archived record {}/{}/{} not reported: {}",
                          record.topic(),
                          record.partition(),
                          record.offset(),
                          e.toString()));
        });
    return consumer.subscribe(cfg.topics().brokerDeadLetter());
  }

  private void report(
      ConsumerRecord<byte[], byte[]> r,
      WorkerConfig cfg,
      JobClaims claims,
      EventPublisher publisher) {
    RequestCheck.Identity id = RequestCheck.identify(r);
    String state = claims.state(id.tenant(), id.jobId(), () -> running);
    if ("done".equals(state) || "running".equals(state)) {
      return; // it succeeded (its lock ran out before the acknowledgement), or another record of
      // the job runs it now
    }
    long epoch = claims.nextEpoch(id.tenant(), id.jobId(), 0, () -> running);
    new JobReporter(
            publisher,
            id.jobId(),
            id.tenant(),
            id.jobType(),
            cfg.workerId(),
            epoch,
            cfg.progressInterval())
        .failed(
            new FieldError(
                "",
                "archived by the broker after its delivery limit; the record is in "
                    + r.topic()
                    + " at offset "
                    + r.offset()));
    LOG.warn(
        "job {}/{} was archived by the broker (its record is in {} at offset {}); reported as"
            + " failed",
        id.tenant(),
        id.jobId(),
        r.topic(),
        r.offset());
  }

  Future<Void> close() {
    running = false;
    return consumer == null ? Future.succeededFuture() : consumer.close();
  }
}
