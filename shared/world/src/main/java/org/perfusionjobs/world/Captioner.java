package org.perfusionjobs.world;

import static org.perfusionjobs.world.SceneSampler.pick;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Plain-English captions of scenes, one of several templates drawn at random. Templates may leave
 * out any attribute (so that the model learns what each word adds) but every word they use is true
 * of the scene. Every caption names the shape of each object it mentions.
 */
public final class Captioner {
  private static final List<String> ONE_OBJECT = List.of(
      "a {size} {colour} {shape} {at}",
      "a {size} {colour} {shape} {at} on a {background} background",
      "a {colour} {shape} {at}",
      "a {size} {shape} {at}",
      "a {shape} {at}",
      "a {size} {colour} {shape}",
      "a {colour} {shape}",
      "a {colour} {shape} on a {background} background",
      "a {shape}",
      "a photo of a {shape}, {colour}, {size}, {where}",
      "a picture of a {size} {colour} {shape} {at}",
      "{at}, a {size} {colour} {shape}",
      "a drawing of a {colour} {shape} on a {background} background");
  /** How an object is named inside two-object captions. */
  private static final List<String> DESCRIPTIONS = List.of(
      "a {colour} {shape}",
      "a {size} {colour} {shape}",
      "a {size} {shape}");
  private static final List<String> TWO_OBJECTS = List.of(
      "{first} {relation} {second}",
      "{first} {relation} {second} on a {background} background",
      "{first} {at1} and {second} {at2}",
      "a photo of {first} and {second}");
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{(\\w+)}");
  private static final Pattern A_BEFORE_VOWEL = Pattern.compile("\\ba (?=[aeiou])");
  private static final Pattern NOT_A_WORD = Pattern.compile("[^a-z]+");

  private final Set<String> vocabulary = Set.copyOf(buildVocabulary());

  /** A caption of {@code scene} with template and synonyms drawn from {@code rng}. */
  public String caption(Scene scene, SplittableRandom rng) {
    List<SceneObject> objects = scene.objects();
    Map<String, String> values = new HashMap<>();
    values.put("background", pick(scene.background().words(), rng));
    if (objects.size() == 1) {
      describe(objects.get(0), values, rng);
      return fill(pick(ONE_OBJECT, rng), values);
    }
    // Either object may be named first; the relation is then read from the one named first.
    boolean swap = rng.nextBoolean();
    SceneObject first = objects.get(swap ? 1 : 0);
    SceneObject second = objects.get(swap ? 0 : 1);
    Relation relation = Relation.between(first.position(), second.position());
    values.put("relation", pick(relation.phrases(), rng));
    values.put("first", fill(pick(DESCRIPTIONS, rng), describe(first, new HashMap<>(), rng)));
    values.put("second", fill(pick(DESCRIPTIONS, rng), describe(second, new HashMap<>(), rng)));
    values.put("at1", pick(first.position().phrases(), rng));
    values.put("at2", pick(second.position().phrases(), rng));
    return fill(pick(TWO_OBJECTS, rng), values);
  }

  /** Every word a caption can contain, as {@link #words} splits it. */
  public Set<String> vocabulary() {
    return vocabulary;
  }

  /** The words of a caption: lower-case runs of letters (commas and spaces separate them). */
  public static List<String> words(String caption) {
    return NOT_A_WORD.splitAsStream(caption.toLowerCase()).filter(w -> !w.isEmpty()).toList();
  }

  private static Map<String, String> describe(SceneObject object, Map<String, String> values, SplittableRandom rng) {
    values.put("shape", pick(object.shape().words(), rng));
    values.put("colour", pick(object.colour().words(), rng));
    values.put("size", pick(object.size().words(), rng));
    values.put("at", pick(object.position().phrases(), rng));
    values.put("where", pick(object.position().words(), rng));
    return values;
  }

  private static String fill(String template, Map<String, String> values) {
    Matcher m = PLACEHOLDER.matcher(template);
    String filled = m.replaceAll(r -> Matcher.quoteReplacement(values.get(r.group(1))));
    return A_BEFORE_VOWEL.matcher(filled).replaceAll("an ");
  }

  private static Set<String> buildVocabulary() {
    Stream<String> templates = Stream.of(ONE_OBJECT, DESCRIPTIONS, TWO_OBJECTS).flatMap(List::stream)
        .map(t -> PLACEHOLDER.matcher(t).replaceAll(" "));
    Stream<String> attributes = Stream.of(
        Arrays.stream(Shape.values()).flatMap(v -> v.words().stream()),
        Arrays.stream(Colour.values()).flatMap(v -> v.words().stream()),
        Arrays.stream(Size.values()).flatMap(v -> v.words().stream()),
        Arrays.stream(Background.values()).flatMap(v -> v.words().stream()),
        Arrays.stream(Position.values()).flatMap(v -> Stream.concat(v.phrases().stream(), v.words().stream())),
        Arrays.stream(Relation.values()).flatMap(v -> v.phrases().stream()),
        Stream.of("an")) // the article before a vowel, which no template spells out
        .flatMap(s -> s);
    Set<String> words = new TreeSet<>();
    Stream.concat(templates, attributes).forEach(text -> words.addAll(words(text)));
    return words;
  }
}
