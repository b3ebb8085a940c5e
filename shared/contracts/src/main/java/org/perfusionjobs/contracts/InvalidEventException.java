package org.perfusionjobs.contracts;

/** A record that cannot be processed, with the first field-named reason. */
public final class InvalidEventException extends Exception {
  private static final long serialVersionUID = 1L;
  private final transient FieldError error;

  public InvalidEventException(FieldError error) {
    super(error.toString());
    this.error = error;
  }

  public FieldError error() {
    return error;
  }
}
