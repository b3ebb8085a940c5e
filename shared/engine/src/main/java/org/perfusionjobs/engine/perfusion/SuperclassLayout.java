package org.perfusionjobs.engine.perfusion;

/**
 * Beyond the paper: the share of the denoising steps drawn from the prompt with each concept word
 * replaced by its superclass, with no edit, before the concept's edit takes over (a prompt
 * schedule, {@code Conditioning.withEarly}). Diffusion lays a scene out in its first steps and
 * paints its objects later; the concept's edit is what draws extra copies and loses the asked size
 * and position, while the base model lays out its own words well, so the superclass may draw the
 * layout and the concept only the look. 0 is the paper's (the edit from the first step). It is held
 * on a loaded concept as the setting {@value #KEY} (eval's and a generate request's run-time
 * choice; {@code train} does not write it); a request uses the largest of its concepts'.
 */
public final class SuperclassLayout {
  /** The concept file's setting ({@code train.superclass_layout} in its metadata). */
  public static final String KEY = "superclass_layout";

  private SuperclassLayout() {}

  /** A share in [0, 1), or a clear error naming the option. */
  public static double parse(String text) {
    double share;
    try {
      share = Double.parseDouble(text.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "superclass layout '" + text + "': expected a share of the steps in [0, 1), e.g. 0.3");
    }
    return check(share, text);
  }

  private static double check(double share, String asGiven) {
    if (!(share >= 0 && share < 1)) {
      throw new IllegalArgumentException(
          "superclass layout " + asGiven + ": must be in [0, 1) (1 would never draw the concept)");
    }
    return share;
  }

  /** The share a concept was made for: its setting, else 0 (the paper's). */
  public static double of(Concept c) {
    String s = c.trainingSettings().get(KEY);
    return s == null ? 0 : parse(s);
  }

  /** {@code c} recorded with this share. */
  public static Concept apply(Concept c, double share) {
    check(share, Double.toString(share));
    return c.withTrainingSetting(KEY, Double.toString(share));
  }
}
