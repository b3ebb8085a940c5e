package org.perfusionjobs.evaluator.concepts;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.perfusionjobs.evaluator.ObjectPrediction;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/**
 * What a concept looks like in the world: a shape, a colour and a fill, written {@code
 * shape=star,colour=red,pattern=stripes} (pattern may be left out: plain). The concept's images
 * draw it, and evaluation counts it found when an object has all three.
 *
 * <p>{@code pattern=any} ({@link #anyFill}) scores shape and colour alone: the ceiling rows, where
 * the base model is asked with its own shape and colour words and no word can ask for a fill, so
 * the fill it draws unasked (half the world's objects carry one) is not held against it. Such a
 * spec cannot draw concept images.
 */
public record ConceptSpec(Shape shape, Colour colour, Pattern pattern, boolean anyFill) {
  static final String EXAMPLE = "shape=heart,colour=blue,pattern=dots";
  static final String ANY = "any";

  private enum Field {
    SHAPE,
    COLOUR,
    PATTERN
  }

  public ConceptSpec {
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(colour, "colour");
    Objects.requireNonNull(pattern, "pattern");
    if (anyFill && pattern != Pattern.PLAIN) {
      throw new IllegalArgumentException("pattern: any fill is written with the placeholder PLAIN");
    }
  }

  /** A concept with exactly this fill. */
  public ConceptSpec(Shape shape, Colour colour, Pattern pattern) {
    this(shape, colour, pattern, false);
  }

  /** Shape and colour, any fill ({@code pattern=any}). */
  public static ConceptSpec anyFill(Shape shape, Colour colour) {
    return new ConceptSpec(shape, colour, Pattern.PLAIN, true);
  }

  /** Parses {@code shape=..,colour=..[,pattern=..]}; one-line errors name the field and the fix. */
  public static ConceptSpec parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("spec: empty; write e.g. " + EXAMPLE);
    }
    Map<Field, String> values = new EnumMap<>(Field.class);
    for (String item : text.split(",")) {
      String[] kv = item.split("=", -1);
      if (kv.length != 2 || kv[0].isBlank() || kv[1].isBlank()) {
        throw new IllegalArgumentException(
            "spec: '" + item.trim() + "' is not field=value; write e.g. " + EXAMPLE);
      }
      String key = kv[0].trim().toLowerCase(Locale.ROOT);
      Field f =
          switch (key) {
            case "shape" -> Field.SHAPE;
            case "colour", "color" -> Field.COLOUR;
            case "pattern" -> Field.PATTERN;
            default ->
                throw new IllegalArgumentException(
                    "spec: unknown field '"
                        + kv[0].trim()
                        + "'; the fields are shape, colour and pattern");
          };
      if (values.put(f, kv[1].trim()) != null) {
        throw new IllegalArgumentException("spec: " + key + " given twice in '" + text + "'");
      }
    }
    for (Field f : List.of(Field.SHAPE, Field.COLOUR)) {
      if (!values.containsKey(f)) {
        throw new IllegalArgumentException(
            "spec: "
                + f.name().toLowerCase(Locale.ROOT)
                + " missing in '"
                + text
                + "'; write e.g. "
                + EXAMPLE);
      }
    }
    Shape shape = named("shape", values.get(Field.SHAPE), Shape.values(), s -> s.words().get(0));
    Colour colour =
        named("colour", values.get(Field.COLOUR), Colour.values(), c -> c.words().get(0));
    String pattern = values.getOrDefault(Field.PATTERN, Pattern.PLAIN.word());
    return pattern.equalsIgnoreCase(ANY)
        ? anyFill(shape, colour)
        : new ConceptSpec(shape, colour, Pattern.fromName(pattern));
  }

  /** The spec as {@link #parse} reads it: {@code shape=star,colour=red,pattern=stripes}. */
  public String text() {
    return "shape="
        + shape.words().get(0)
        + ",colour="
        + colour.words().get(0)
        + ",pattern="
        + (anyFill ? ANY : pattern.word());
  }

  /** The concept as an object of a scene. */
  public SceneObject object(Position position, Size size) {
    return new SceneObject(shape, colour, position, size, pattern);
  }

  /** Whether a found object is this concept: shape, colour and (unless any) pattern all right. */
  public boolean matches(ObjectPrediction found) {
    return found.shape() == shape
        && found.colour() == colour
        && (anyFill || found.pattern() == pattern);
  }

  @Override
  public String toString() {
    return text();
  }

  private static <T extends Enum<T>> T named(
      String field, String value, T[] values, Function<T, String> word) {
    String v = value.toLowerCase(Locale.ROOT);
    for (T t : values) {
      if (word.apply(t).equals(v) || t.name().toLowerCase(Locale.ROOT).equals(v)) {
        return t;
      }
    }
    throw new IllegalArgumentException(
        field
            + ": unknown '"
            + value
            + "', use one of "
            + Arrays.stream(values).map(word).toList());
  }
}
