package org.perfusionjobs.contracts;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * A password or other credential from config. Its {@link #toString} never shows the value, so a
 * config record that holds one can be logged whole.
 *
 * @param value the secret itself
 */
public record Secret(String value) {
  public Secret {
    Objects.requireNonNull(value, "value");
  }

  @Override
  public String toString() {
    return "<redacted>";
  }

  /**
   * The secret named {@code key}: its value, or the contents of the file {@code key_FILE} names
   * (one trailing line break removed), so that secrets need not sit in env files; null when neither
   * is set.
   *
   * @throws IllegalArgumentException naming the setting when both are set or the file cannot be
   *     read
   */
  public static Secret from(Map<String, String> env, String key) {
    String direct = env.get(key);
    String file = env.get(key + "_FILE");
    boolean hasDirect = direct != null && !direct.isEmpty();
    boolean hasFile = file != null && !file.isBlank();
    if (hasDirect && hasFile) {
      throw new IllegalArgumentException(
          "settings " + key + " and " + key + "_FILE are both set; set only one of them");
    }
    if (hasDirect) {
      return new Secret(direct);
    }
    if (!hasFile) {
      return null;
    }
    try {
      String s = Files.readString(Path.of(file.strip()), StandardCharsets.UTF_8);
      s = s.endsWith("\r\n") ? s.substring(0, s.length() - 2) : s;
      s = s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
      if (s.isEmpty()) {
        throw new IllegalArgumentException(
            "setting " + key + "_FILE: " + file.strip() + " is empty; put the secret in it");
      }
      return new Secret(s);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "setting "
              + key
              + "_FILE: cannot read "
              + file.strip()
              + " ("
              + e.getClass().getSimpleName()
              + "); give a readable file holding the secret");
    }
  }
}
