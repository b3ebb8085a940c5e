package org.perfusionjobs.evaluator;

import java.util.List;
import java.util.stream.Stream;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/**
 * Where each {@link Heads} group sits in the network's output row. Only the pattern group varies:
 * an evaluator knows the patterns it was trained on (world-v1's: plain and stripes), so that one
 * trained before a pattern existed still loads and reads what it learned.
 *
 * @param patterns the pattern classes in output order, {@link Pattern#PLAIN} first
 */
record HeadLayout(List<Pattern> patterns) {
  /**
   * The layout of evaluators saved before patterns were listed in their config: plain and stripes.
   */
  static final HeadLayout STRIPES_ONLY = new HeadLayout(List.of(Pattern.PLAIN, Pattern.STRIPES));

  HeadLayout {
    patterns = List.copyOf(patterns);
    if (patterns.isEmpty()
        || patterns.get(0) != Pattern.PLAIN
        || patterns.stream().distinct().count() != patterns.size()) {
      throw new IllegalArgumentException(
          "patterns: plain first, then distinct hidden patterns, not " + patterns);
    }
  }

  /** Plain and the given hidden patterns. */
  static HeadLayout of(List<Pattern> hidden) {
    return new HeadLayout(Stream.concat(Stream.of(Pattern.PLAIN), hidden.stream()).toList());
  }

  int classes(Heads h) {
    return switch (h) {
      case PRESENT -> 2;
      case SHAPE -> Shape.values().length;
      case COLOUR -> Colour.values().length;
      case SIZE -> Size.values().length;
      case PATTERN -> patterns.size();
      case BACKGROUND -> Background.values().length;
    };
  }

  int offset(Heads h) {
    int o = 0;
    for (Heads g : Heads.values()) {
      if (g == h) {
        return o;
      }
      o += classes(g);
    }
    throw new AssertionError(h);
  }

  /** Logits per cell. */
  int width() {
    return offset(Heads.BACKGROUND) + classes(Heads.BACKGROUND);
  }

  /** The NDArray index of group {@code h}'s columns. */
  String columns(Heads h) {
    return ":, " + offset(h) + ":" + (offset(h) + classes(h));
  }

  /** The pattern's class index; one-line error when this evaluator was not trained on it. */
  int patternIndex(Pattern p) {
    int i = patterns.indexOf(p);
    if (i < 0) {
      throw new IllegalArgumentException(
          "pattern: this evaluator knows "
              + patterns
              + ", not "
              + p
              + "; train one with --patterns");
    }
    return i;
  }
}
