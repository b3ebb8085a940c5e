package org.perfusionjobs.world;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads captions back into attributes, independently of how the {@link Captioner} builds them, so
 * that tests can check that a caption says nothing the scene contradicts. Any attribute found more
 * than once with different values in one object's description is reported as all of its values.
 */
final class CaptionReader {
  /** What a caption says of one object; empty sets for attributes it leaves out. */
  record Mention(Set<Shape> shapes, Set<Colour> colours, Set<Size> sizes, Set<Position> positions) {
    boolean consistentWith(SceneObject o) {
      return within(shapes, o.shape())
          && within(colours, o.colour())
          && within(sizes, o.size())
          && within(positions, o.position());
    }

    private static <T> boolean within(Set<T> said, T actual) {
      return said.isEmpty() || said.equals(Set.of(actual));
    }
  }

  /**
   * The whole caption: backgrounds named, object mentions in caption order, relation of first to
   * second.
   */
  record Reading(Set<Background> backgrounds, List<Mention> mentions, Relation relation) {}

  private static final Pattern BACKGROUND = Pattern.compile("on an? ([a-z ]+?) background");
  private static final Pattern RELATION =
      Pattern.compile("\\b(to the left of|left of|to the right of|right of|above|below|under)\\b");

  static Reading read(String caption) {
    String text = caption.toLowerCase();
    Set<Background> backgrounds = EnumSet.noneOf(Background.class);
    Matcher bg = BACKGROUND.matcher(text);
    while (bg.find()) {
      String word = bg.group(1);
      backgrounds.add(
          Arrays.stream(Background.values())
              .filter(b -> b.words().contains(word))
              .findFirst()
              .orElseThrow(
                  () -> new AssertionError("unknown background '" + word + "' in: " + caption)));
    }
    text = BACKGROUND.matcher(text).replaceAll(" ");
    Relation relation = null;
    List<String> parts;
    Matcher rel = RELATION.matcher(text);
    if (rel.find()) {
      String phrase = rel.group(1);
      relation =
          Arrays.stream(Relation.values())
              .filter(r -> r.phrases().contains(phrase))
              .findFirst()
              .orElseThrow();
      parts = List.of(text.substring(0, rel.start()), text.substring(rel.end()));
    } else {
      parts = List.of(text.split("\\band\\b"));
    }
    List<Mention> mentions = new ArrayList<>();
    for (String part : parts) {
      mentions.add(mention(part));
    }
    return new Reading(backgrounds, mentions, relation);
  }

  private static Mention mention(String part) {
    // Longest position words first, removed once found, so that "top left" is not also read as
    // "top".
    Set<Position> positions = EnumSet.noneOf(Position.class);
    String rest = part;
    List<String[]> words = new ArrayList<>();
    for (Position p : Position.values()) {
      for (String w : p.words()) {
        words.add(new String[] {w, p.name()});
      }
    }
    words.sort(Comparator.comparingInt((String[] w) -> -w[0].length()));
    for (String[] w : words) {
      Matcher m = Pattern.compile("\\b" + w[0] + "\\b").matcher(rest);
      if (m.find()) {
        positions.add(Position.valueOf(w[1]));
        rest = m.replaceAll(" ");
      }
    }
    return new Mention(
        find(rest, Shape.values(), Shape::words, Shape.class),
        find(rest, Colour.values(), Colour::words, Colour.class),
        find(rest, Size.values(), Size::words, Size.class),
        positions);
  }

  private static <E extends Enum<E>> Set<E> find(
      String text, E[] values, Function<E, List<String>> words, Class<E> type) {
    Set<E> found = EnumSet.noneOf(type);
    for (E v : values) {
      for (String w : words.apply(v)) {
        if (Pattern.compile("\\b" + w + "\\b").matcher(text).find()) {
          found.add(v);
        }
      }
    }
    return found;
  }

  private CaptionReader() {}
}
