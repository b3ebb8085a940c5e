package org.perfusionjobs.contracts;

/**
 * What is wrong with a request: the JSON pointer of the field ("" for the whole record) and why.
 */
public record FieldError(String field, String reason) {
  @Override
  public String toString() {
    return (field.isEmpty() ? "record" : field) + ": " + reason;
  }
}
