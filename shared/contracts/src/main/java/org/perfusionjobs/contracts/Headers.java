package org.perfusionjobs.contracts;

/** Record header names of the contracts. */
public final class Headers {
  /** Name of the event's schema, e.g. {@code generate-request}. */
  public static final String SCHEMA = "perfusion-schema";

  /** Version of that schema, a decimal integer, e.g. {@code 1}. */
  public static final String VERSION = "perfusion-schema-version";

  /** Dead-letter provenance: why the record was rejected. */
  public static final String DLQ_REASON = "perfusion-dlq-reason";

  /** Dead-letter provenance: JSON pointer of the offending field, if any. */
  public static final String DLQ_FIELD = "perfusion-dlq-field";

  public static final String DLQ_TOPIC = "perfusion-dlq-original-topic";
  public static final String DLQ_PARTITION = "perfusion-dlq-original-partition";
  public static final String DLQ_OFFSET = "perfusion-dlq-original-offset";

  /**
   * Dead-letter provenance: set when the value was too large to copy (the dead letter then has no
   * value).
   */
  public static final String DLQ_VALUE_OMITTED = "perfusion-dlq-value-omitted";

  private Headers() {}
}
