package org.perfusionjobs.infra;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.perfusionjobs.contracts.Topics;

/**
 * Creates the topics (idempotently) and configures the workers' share group: its dead-letter topic
 * and delivery limit.
 */
public final class TopicSetup {
  private TopicSetup() {}

  /**
   * Creates every topic that does not exist yet; the concept registry is compacted. Job topics get
   * one partition: a share group hands a partition's records to every member assigned to it, and
   * with several partitions the assignor may give a partition to one member only, so a job could
   * wait behind a busy worker while another idles (seen with 3 partitions and 2 workers). One
   * partition is shared by all members, which is what a job queue needs; events use {@code
   * eventPartitions}.
   */
  public static void createTopics(String bootstrap, Topics topics, int eventPartitions)
      throws Exception {
    try (Admin admin = admin(bootstrap)) {
      Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
      List<NewTopic> create = new ArrayList<>();
      for (String t : topics.all()) {
        if (existing.contains(t)) {
          continue;
        }
        int partitions = t.equals(topics.events()) ? eventPartitions : 1;
        NewTopic nt = new NewTopic(t, partitions, (short) 1);
        if (t.equals(topics.concepts())) {
          nt.configs(
              Map.of(
                  "cleanup.policy",
                  "compact",
                  "min.compaction.lag.ms",
                  "0",
                  "max.message.bytes",
                  "2097152"));
        }
        if (t.equals(topics.brokerDeadLetter())) {
          nt.configs(Map.of("errors.deadletterqueue.group.enable", "true"));
        }
        create.add(nt);
      }
      try {
        admin.createTopics(create).all().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) {
          throw e;
        }
      }
    }
  }

  /**
   * Share-group settings: after {@code deliveryLimit} failed deliveries a record is archived and
   * copied to the broker dead-letter topic.
   */
  public static void configureShareGroup(
      String bootstrap, String groupId, Topics topics, int deliveryLimit) throws Exception {
    try (Admin admin = admin(bootstrap)) {
      ConfigResource group = new ConfigResource(ConfigResource.Type.GROUP, groupId);
      Collection<AlterConfigOp> ops =
          List.of(
              new AlterConfigOp(
                  new ConfigEntry("share.delivery.count.limit", Integer.toString(deliveryLimit)),
                  AlterConfigOp.OpType.SET),
              new AlterConfigOp(
                  new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET),
              new AlterConfigOp(
                  new ConfigEntry("errors.deadletterqueue.topic.name", topics.brokerDeadLetter()),
                  AlterConfigOp.OpType.SET),
              new AlterConfigOp(
                  new ConfigEntry("errors.deadletterqueue.copy.record.enable", "true"),
                  AlterConfigOp.OpType.SET));
      try {
        admin.incrementalAlterConfigs(Map.of(group, ops)).all().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        // Brokers without the dead-letter settings still get the essential ones.
        admin
            .incrementalAlterConfigs(Map.of(group, List.copyOf(ops).subList(0, 2)))
            .all()
            .get(30, TimeUnit.SECONDS);
      }
    }
  }

  static Admin admin(String bootstrap) {
    return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
  }
}
