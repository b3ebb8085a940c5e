package org.perfusionjobs.engine.scheduler;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The samplers a user can pick, by the names the CLI and the job API accept. */
public enum SamplerKind {
  /** DDIM (diffusers DDIMScheduler); eta 0 is deterministic, eta > 0 adds noise each step. */
  DDIM("ddim", TimestepSpacing.LEADING),
  /** Euler ancestral (diffusers EulerAncestralDiscreteScheduler); stochastic. */
  EULER_ANCESTRAL("euler_a", TimestepSpacing.LINSPACE),
  /**
   * DPM-Solver++ 2M (diffusers DPMSolverMultistepScheduler, solver_order 2, midpoint);
   * deterministic.
   */
  DPMPP_2M("dpmpp_2m", TimestepSpacing.LINSPACE);

  private final String userName;
  private final TimestepSpacing defaultSpacing;

  SamplerKind(String userName, TimestepSpacing defaultSpacing) {
    this.userName = userName;
    this.defaultSpacing = defaultSpacing;
  }

  /** The name users type: "ddim", "euler_a", "dpmpp_2m". */
  public String userName() {
    return userName;
  }

  /** The diffusers class default, used when the config has no {@code timestep_spacing}. */
  public TimestepSpacing defaultSpacing() {
    return defaultSpacing;
  }

  public static SamplerKind fromName(String name) {
    String key = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    for (SamplerKind k : values()) {
      if (k.userName.equals(key)) {
        return k;
      }
    }
    throw new IllegalArgumentException("unknown sampler '" + name + "'; valid: " + validNames());
  }

  public static String validNames() {
    return Arrays.stream(values()).map(SamplerKind::userName).collect(Collectors.joining(", "));
  }
}
