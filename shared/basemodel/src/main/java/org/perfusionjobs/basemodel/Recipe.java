package org.perfusionjobs.basemodel;

import java.util.List;
import java.util.stream.Collectors;
import org.perfusionjobs.world.Pattern;

/**
 * How a bundled base model was made, by name: its settings and, for a fine-tune, the model folder
 * it starts from. {@code train-base} with no option reruns the newest recipe, so the shipped model
 * can be rebuilt without reading its log.
 *
 * @param name the model's folder name under {@code models/}
 * @param settings what {@link BaseModelBuilder#build} trains with
 * @param initFrom the bundled model (folder name under {@code models/}) whose weights are trained
 *     further; null to start from random weights
 */
public record Recipe(String name, BaseModelBuilder.Settings settings, String initFrom) {

  /**
   * world-v1 (revision 7, docs/decisions.md 24): the from-scratch recipe, stripes the only hidden
   * pattern; about 75 minutes alone on the 2-core machine when it ran at its 2026-11-27 speed.
   */
  public static final Recipe WORLD_V1 =
      new Recipe("world-v1", BaseModelBuilder.Settings.defaults(), null);

  /**
   * world-v2 (docs/decisions.md 31): world-v1 trained further on all five hidden patterns, half of
   * the objects patterned, VAE included, at lower peak rates; about 47 minutes alone. A fine-tune
   * because world-v1's recipe from scratch would have run over the 90-minute budget at the
   * machine's speed that day.
   */
  public static final Recipe WORLD_V2 =
      new Recipe(
          "world-v2",
          BaseModelBuilder.Settings.defaults().toBuilder()
              .patterns(Pattern.hidden())
              .stripedFraction(0.5)
              .vaeSteps(800)
              .vaeLearningRate(3e-4f)
              .unetSteps(5000)
              .unetLearningRate(5e-4f)
              .build(),
          "world-v1");

  /** Every recipe, oldest first; the last is the bundled model's. */
  public static final List<Recipe> ALL = List.of(WORLD_V1, WORLD_V2);

  /** The bundled model's recipe. */
  public static Recipe latest() {
    return ALL.get(ALL.size() - 1);
  }

  /**
   * The recipe called {@code name}.
   *
   * @throws IllegalArgumentException one line naming the known recipes
   */
  public static Recipe named(String name) {
    return ALL.stream()
        .filter(r -> r.name().equals(name))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "--recipe: unknown recipe '"
                        + name
                        + "'; use one of "
                        + ALL.stream().map(Recipe::name).collect(Collectors.joining(", "))));
  }
}
