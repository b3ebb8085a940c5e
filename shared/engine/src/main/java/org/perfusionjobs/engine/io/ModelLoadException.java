package org.perfusionjobs.engine.io;

import java.io.IOException;

/** A model folder or checkpoint that cannot be loaded; the message names the file and the keys. */
public class ModelLoadException extends IOException {
  private static final long serialVersionUID = 1L;

  public ModelLoadException(String message) {
    super(message);
  }

  public ModelLoadException(String message, Throwable cause) {
    super(message, cause);
  }
}
