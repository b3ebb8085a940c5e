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
  private static final List<String> ONE_OBJECT =
      List.of(
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
  private static final List<String> DESCRIPTIONS =
      List.of("a {colour} {shape}", "a {size} {colour} {shape}", "a {size} {shape}");

  private static final List<String> TWO_OBJECTS =
      List.of(
          "{first} {relation} {second}",
          "{first} {relation} {second} on a {background} background",
          "{first} {at1} and {second} {at2}",
          "a photo of {first} and {second}");

  /** The templates of a detailed caption: colour and position always said. */
  private static final String DETAILED_ONE_OBJECT = ONE_OBJECT.get(1);

  private static final List<String> DETAILED_DESCRIPTIONS =
      List.of(DESCRIPTIONS.get(0), DESCRIPTIONS.get(1));
  private static final String DETAILED_TWO_OBJECTS = TWO_OBJECTS.get(2);
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{(\\w+)}");
  private static final Pattern A_BEFORE_VOWEL = Pattern.compile("\\ba (?=[aeiou])");
  private static final Pattern NOT_A_WORD = Pattern.compile("[^a-z]+");

  private final Set<String> vocabulary = Set.copyOf(buildVocabulary());

  /**
   * The share of captions drawn from the templates that say everything (see {@link
   * #Captioner(double)}).
   */
  private final double detailedFraction;

  /** Templates drawn uniformly: most captions leave something out. */
  public Captioner() {
    this(0);
  }

  /**
   * With probability {@code detailedFraction} a caption says the colour and position of each object
   * and, for one object, also its size and the background (so that a model trained on them learns
   * each word from more examples); otherwise templates are drawn uniformly. With 0 the captions are
   * those of {@link #Captioner()}.
   */
  public Captioner(double detailedFraction) {
    if (!(detailedFraction >= 0 && detailedFraction <= 1)) {
      throw new IllegalArgumentException(
          "detailed caption fraction " + detailedFraction + " is not in [0, 1]");
    }
    this.detailedFraction = detailedFraction;
  }

  /** A caption of {@code scene} with template and synonyms drawn from {@code rng}. */
  public String caption(Scene scene, SplittableRandom rng) {
    return describe(scene, rng).text();
  }

  /** A caption of {@code scene} and what it says, drawn exactly as {@link #caption} draws it. */
  public Caption describe(Scene scene, SplittableRandom rng) {
    List<SceneObject> objects = scene.objects();
    if (objects.size() > 2) {
      throw new IllegalArgumentException(
          "scene: captions describe one or two objects, not " + objects.size());
    }
    boolean detailed = detailedFraction > 0 && rng.nextDouble() < detailedFraction;
    Map<String, String> values = new HashMap<>();
    values.put("background", pick(scene.background().words(), rng));
    if (objects.size() == 1) {
      describe(objects.get(0), values, rng);
      String template = detailed ? DETAILED_ONE_OBJECT : pick(ONE_OBJECT, rng);
      return new Caption(
          fill(template, values),
          List.of(
              mention(
                  objects.get(0),
                  template,
                  template.contains("{at}") || template.contains("{where}"))),
          null,
          template.contains("{background}") ? scene.background() : null);
    }
    // Either object may be named first; the relation is then read from the one named first.
    boolean swap = rng.nextBoolean();
    SceneObject first = objects.get(swap ? 1 : 0);
    SceneObject second = objects.get(swap ? 0 : 1);
    Relation relation = Relation.between(first.position(), second.position());
    values.put("relation", pick(relation.phrases(), rng));
    String firstTemplate = pick(detailed ? DETAILED_DESCRIPTIONS : DESCRIPTIONS, rng);
    String secondTemplate = pick(detailed ? DETAILED_DESCRIPTIONS : DESCRIPTIONS, rng);
    values.put("first", fill(firstTemplate, describe(first, new HashMap<>(), rng)));
    values.put("second", fill(secondTemplate, describe(second, new HashMap<>(), rng)));
    values.put("at1", pick(first.position().phrases(), rng));
    values.put("at2", pick(second.position().phrases(), rng));
    String template = detailed ? DETAILED_TWO_OBJECTS : pick(TWO_OBJECTS, rng);
    boolean positions = template.contains("{at1}");
    return new Caption(
        fill(template, values),
        List.of(
            mention(first, firstTemplate, positions), mention(second, secondTemplate, positions)),
        template.contains("{relation}") ? relation : null,
        template.contains("{background}") ? scene.background() : null);
  }

  private static Caption.Mention mention(SceneObject o, String template, boolean position) {
    return new Caption.Mention(
        o, template.contains("{colour}"), template.contains("{size}"), position);
  }

  /** Every word a caption can contain, as {@link #words} splits it. */
  public Set<String> vocabulary() {
    return vocabulary;
  }

  /** The words of a caption: lower-case runs of letters (commas and spaces separate them). */
  public static List<String> words(String caption) {
    return NOT_A_WORD.splitAsStream(caption.toLowerCase()).filter(w -> !w.isEmpty()).toList();
  }

  private static Map<String, String> describe(
      SceneObject object, Map<String, String> values, SplittableRandom rng) {
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
    Stream<String> templates =
        Stream.of(ONE_OBJECT, DESCRIPTIONS, TWO_OBJECTS)
            .flatMap(List::stream)
            .map(t -> PLACEHOLDER.matcher(t).replaceAll(" "));
    Stream<String> attributes =
        Stream.of(
                Arrays.stream(Shape.values()).flatMap(v -> v.words().stream()),
                Arrays.stream(Colour.values()).flatMap(v -> v.words().stream()),
                Arrays.stream(Size.values()).flatMap(v -> v.words().stream()),
                Arrays.stream(Background.values()).flatMap(v -> v.words().stream()),
                Arrays.stream(Position.values())
                    .flatMap(v -> Stream.concat(v.phrases().stream(), v.words().stream())),
                Arrays.stream(Relation.values()).flatMap(v -> v.phrases().stream()),
                Stream.of("an")) // the article before a vowel, which no template spells out
            .flatMap(s -> s);
    Set<String> words = new TreeSet<>();
    Stream.concat(templates, attributes).forEach(text -> words.addAll(words(text)));
    return words;
  }
}
