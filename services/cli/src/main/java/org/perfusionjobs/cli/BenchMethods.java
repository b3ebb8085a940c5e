package org.perfusionjobs.cli;

import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.perfusion.PerfusionAblation;

/**
 * The personalization benchmark's methods: their names, what each adds to {@code train}, and how
 * the report labels them.
 */
final class BenchMethods {
  private BenchMethods() {}

  static final List<String> METHODS =
      List.of("perfusion", "textual-inversion", "custom-diffusion", "lora", "dreambooth");

  /**
   * Perfusion without one of its parts (issue 18 item 6): bench name -> {@code train --ablation}.
   */
  static final Map<String, PerfusionAblation> ABLATIONS =
      Map.of(
          "perfusion-no-key-lock", PerfusionAblation.NO_KEY_LOCK,
          "perfusion-no-gate", PerfusionAblation.NO_GATE,
          "perfusion-no-cinv", PerfusionAblation.NO_CINV);

  /**
   * Perfusion with options beyond the paper (issue 23), measured beside it: bench name -> extra
   * {@code train} arguments.
   */
  static final Map<String, List<String>> VARIANTS =
      Map.of(
          "perfusion-captions",
          List.of("--captions", "per-image"),
          "perfusion-balanced",
          List.of("--embedding-norm-cap", "1", "--background-weight", "0.5"),
          "perfusion-captions-balanced",
          List.of(
              "--captions",
              "per-image",
              "--embedding-norm-cap",
              "1",
              "--background-weight",
              "0.5"));

  /**
   * Baselines whose reference rate does not suit the world model, with the {@code train} arguments
   * the benchmark runs them with instead (docs/perfusion.md#baselines): DreamBooth's 5e-6
   * (diffusers' for SD v1.5) left the UNet where it was in 400 steps here (fidelity 2.5% on zwx, 0%
   * on vkp). A cell records them in its settings, so a cell run otherwise is run again.
   */
  static final Map<String, List<String>> BASELINE_ARGS =
      Map.of("dreambooth", List.of("--lr", "5e-5"));

  /** Every --methods name, in report order. */
  static final List<String> ALL_METHODS =
      List.of(
          "perfusion",
          "perfusion-captions",
          "perfusion-balanced",
          "perfusion-captions-balanced",
          "perfusion-no-key-lock",
          "perfusion-no-gate",
          "perfusion-no-cinv",
          "textual-inversion",
          "custom-diffusion",
          "lora",
          "dreambooth");

  static boolean isPerfusion(String method) {
    return method.equals("perfusion")
        || ABLATIONS.containsKey(method)
        || VARIANTS.containsKey(method);
  }

  /** The report's name of a method: e.g. {@code perfusion (no key-lock)} for an ablation. */
  static String label(String method) {
    PerfusionAblation a = ABLATIONS.get(method);
    if (VARIANTS.containsKey(method)) {
      return VARIANT_LABELS.get(method);
    }
    return a == null ? method : "perfusion (" + a.label() + ")";
  }

  /** Short names of the variants (the plot's legend); the report spells out their options. */
  static final Map<String, String> VARIANT_LABELS =
      Map.of(
          "perfusion-captions", "perfusion + captions",
          "perfusion-balanced", "perfusion + balanced",
          "perfusion-captions-balanced", "perfusion + captions + balanced");

  /** Whether method {@code m}'s concept files are combined in the two-concept prompts. */
  static boolean isPairMethod(String m) {
    return m.equals("perfusion") || VARIANTS.containsKey(m);
  }

  /** {@code settings} with method {@code m}'s own train arguments, if it has any. */
  static String cellSettings(String settings, String m) {
    List<String> args = BASELINE_ARGS.get(m);
    return args == null ? settings : settings + " train=" + String.join(" ", args);
  }
}
