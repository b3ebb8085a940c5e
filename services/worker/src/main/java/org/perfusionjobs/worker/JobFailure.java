package org.perfusionjobs.worker;

import org.perfusionjobs.contracts.FieldError;

/** A job that can never succeed as requested: reported as failed, dead-lettered, and rejected. */
final class JobFailure extends Exception {
  private static final long serialVersionUID = 1L;
  private final transient FieldError error;

  JobFailure(String field, String reason) {
    super(reason);
    this.error = new FieldError(field, reason);
  }

  FieldError error() {
    return error;
  }
}
