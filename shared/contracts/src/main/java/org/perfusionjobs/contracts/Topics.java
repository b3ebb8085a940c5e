package org.perfusionjobs.contracts;

import java.util.List;
import java.util.Objects;

/**
 * The topic names of one deployment, all under a prefix (default {@code perfusion.}): job requests
 * (train, generate) consumed through a share group, job events, the compacted concept registry,
 * cancel requests, and two dead-letter topics: {@code deadLetter} gets every rejected request with
 * its reason and provenance headers (written by the worker); {@code brokerDeadLetter} gets records
 * the broker archived after too many failed deliveries (share groups require the {@code dlq.}
 * prefix for it).
 */
public record Topics(String prefix) {

  public Topics {
    Objects.requireNonNull(prefix, "prefix");
    if (!prefix.matches("[A-Za-z0-9._-]*")) {
      throw new IllegalArgumentException(
          "topic prefix '" + prefix + "' may only use letters, digits, '.', '_' and '-'");
    }
  }

  public static Topics defaults() {
    return new Topics("perfusion.");
  }

  public String train() {
    return prefix + "jobs.train";
  }

  public String generate() {
    return prefix + "jobs.generate";
  }

  public String events() {
    return prefix + "jobs.events";
  }

  public String concepts() {
    return prefix + "concepts";
  }

  public String cancel() {
    return prefix + "jobs.cancel";
  }

  public String deadLetter() {
    return prefix + "dead-letter";
  }

  public String brokerDeadLetter() {
    return "dlq." + prefix + "jobs";
  }

  /** The topic that carries records of {@code schema} (docs/events.md). */
  public String forSchema(String schema) {
    return switch (schema) {
      case Schemas.GENERATE_REQUEST -> generate();
      case Schemas.TRAIN_REQUEST -> train();
      case Schemas.CANCEL_REQUEST -> cancel();
      case Schemas.JOB_EVENT -> events();
      case Schemas.CONCEPT_REGISTERED -> concepts();
      default ->
          throw new IllegalArgumentException(
              "unknown schema '"
                  + schema
                  + "' ("
                  + Schemas.GENERATE_REQUEST
                  + ", "
                  + Schemas.TRAIN_REQUEST
                  + ", "
                  + Schemas.CANCEL_REQUEST
                  + ", "
                  + Schemas.JOB_EVENT
                  + ", "
                  + Schemas.CONCEPT_REGISTERED
                  + ")");
    };
  }

  public List<String> jobTopics() {
    return List.of(train(), generate());
  }

  public List<String> all() {
    return List.of(
        train(), generate(), events(), concepts(), cancel(), deadLetter(), brokerDeadLetter());
  }
}
