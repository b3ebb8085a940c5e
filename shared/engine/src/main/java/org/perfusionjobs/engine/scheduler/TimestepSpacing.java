package org.perfusionjobs.engine.scheduler;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How inference timesteps are placed on the training grid (Table 2 of "Common Diffusion Noise
 * Schedules and Sample Steps are Flawed"). Each sampler turns these into timesteps its own way,
 * exactly as its diffusers class does.
 */
public enum TimestepSpacing {
  LEADING("leading"),
  TRAILING("trailing"),
  LINSPACE("linspace");

  private final String configName;

  TimestepSpacing(String configName) {
    this.configName = configName;
  }

  public String configName() {
    return configName;
  }

  public static TimestepSpacing fromName(String name) {
    for (TimestepSpacing s : values()) {
      if (s.configName.equals(name == null ? null : name.toLowerCase(Locale.ROOT))) {
        return s;
      }
    }
    throw new IllegalArgumentException(
        "timestep_spacing '"
            + name
            + "' is not supported; valid: "
            + Arrays.stream(values())
                .map(TimestepSpacing::configName)
                .collect(Collectors.joining(", ")));
  }
}
