package org.perfusionjobs.evaluator.prompts;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.perfusionjobs.engine.attention.Region;
import org.perfusionjobs.engine.pipeline.RegionalConditioner.RegionPrompt;
import org.perfusionjobs.world.Position;

/**
 * The regions of a prompt of the world's caption language ("a {} on the left and a {2} on the
 * right[ on a sand background]"): each object's phrase, with the prompt's background, in the box of
 * its asked cell grown by a margin. One object with no position goes to the centre cell, where no
 * other object is asked to be, and the words then say so ("a large {} in the centre on a sand
 * background", in its box and for the rest of the image): a prompt that places its object is drawn
 * once where an unplaced one is drawn two or three times, by the base model too
 * (docs/perfusion-results.md, "The unplaced object named in the centre"). A two-object prompt whose
 * objects do not both have a position, or that does not read as two phrases joined by "and", gets
 * none (it is drawn as it is).
 */
public final class RegionPrompts {
  private static final Pattern BACKGROUND = Pattern.compile("\\s+on an? [a-z]+ background$");

  private RegionPrompts() {}

  /**
   * A prompt as drawn in regions: the text the request carries (the prompt, with the centre named
   * for one unplaced object) and each object's region; no regions: drawn as it is.
   */
  public record Layout(String prompt, List<RegionPrompt> regions) {
    public Layout {
      Objects.requireNonNull(prompt, "prompt");
      regions = List.copyOf(regions);
    }
  }

  /**
   * @param margin how far each box reaches beyond its cell, as a fraction of the image (0: the cell
   *     itself, a third of the image each way)
   */
  public static Layout layout(EvalPrompt p, double margin) {
    if (!(margin >= 0 && margin < 1.0 / 3)) {
      throw new IllegalArgumentException(
          "region margin must be in [0, 1/3) of the image, got " + margin);
    }
    String text = p.text();
    String background = "";
    Matcher m = BACKGROUND.matcher(text);
    if (m.find()) {
      background = m.group();
      text = text.substring(0, m.start());
    }
    String[] phrases = p.objects().size() == 1 ? new String[] {text} : text.split(" and ");
    if (phrases.length != p.objects().size()) {
      return new Layout(p.text(), List.of());
    }
    String prompt = p.text();
    List<RegionPrompt> regions = new ArrayList<>();
    for (int i = 0; i < phrases.length; i++) {
      String phrase = phrases[i].strip();
      Position at;
      if (p.objects().get(i).attributes().contains(Attribute.POSITION)) {
        at = p.objects().get(i).object().position();
      } else if (phrases.length == 1) {
        // One object with no position: the centre, where nothing else is asked to be, named.
        at = Position.CENTRE;
        phrase += " " + at.phrases().get(0);
        prompt = phrase + background;
      } else {
        return new Layout(p.text(), List.of());
      }
      regions.add(new RegionPrompt(box(at, margin), phrase + background));
    }
    return new Layout(prompt, regions);
  }

  /** The cell of {@code at} in the 3x3 grid, grown by {@code margin} and clipped to the image. */
  static Region box(Position at, double margin) {
    return new Region(
        Math.max(0, at.column() / 3.0 - margin),
        Math.max(0, at.row() / 3.0 - margin),
        Math.min(1, (at.column() + 1) / 3.0 + margin),
        Math.min(1, (at.row() + 1) / 3.0 + margin));
  }
}
