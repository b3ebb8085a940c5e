package org.perfusionjobs.evaluator.prompts;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Captioner;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Relation;
import org.perfusionjobs.world.SceneObject;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/**
 * Reads what a prompt in the world's caption language asks for, from its words: each object (a
 * shape word, or a concept's word) with the size, colour and position words that go with it, and
 * the background. {@code {}} (or {@code {1}}) stands for the first concept's word, {@code {2}} for
 * the second's. Words before a noun describe it ("a small red star"); in list-like prompts words
 * after it do ("a photo of a star, red, small, top left"); a position before the first object
 * describes that object ("at the top, a red star"). Relations ("left of") are refused: they fix no
 * cell, and the evaluator scores cells.
 */
public final class PromptParser {
  /** A concept the prompts may name: its word and what it looks like. */
  public record Concept(String word, ConceptSpec spec) {}

  private static final Pattern PLACEHOLDER = Pattern.compile("\\{(\\d*)}");
  private static final Set<String> FILLERS =
      Set.of("a", "an", "photo", "of", "picture", "drawing", "and");
  private static final Set<String> ARTICLES = Set.of("a", "an", "and");

  /** Multi-word phrases, longest first so that "on the left" wins over "left". */
  private final Map<List<String>, Object> phrases = new LinkedHashMap<>();

  private final List<Concept> concepts;

  public PromptParser(List<Concept> concepts) {
    this.concepts = List.copyOf(concepts);
    Map<List<String>, Object> all = new LinkedHashMap<>();
    for (Position p : Position.values()) {
      p.phrases().forEach(ph -> all.put(Captioner.words(ph), new PositionWord(p, false)));
      p.words().forEach(w -> all.putIfAbsent(Captioner.words(w), new PositionWord(p, true)));
    }
    for (Relation r : Relation.values()) {
      r.phrases().forEach(ph -> all.put(Captioner.words(ph), r));
    }
    for (Background b : Background.values()) {
      b.words()
          .forEach(
              w -> {
                List<String> phrase = new ArrayList<>(List.of("on", "a"));
                phrase.addAll(Captioner.words(w));
                phrase.add("background");
                all.put(phrase, b);
              });
    }
    for (Size s : Size.values()) {
      s.words().forEach(w -> all.put(List.of(w), s));
    }
    for (Colour c : Colour.values()) {
      c.words().forEach(w -> all.put(List.of(w), c));
    }
    for (Shape s : Shape.values()) {
      s.words().forEach(w -> all.put(List.of(w), s));
    }
    for (Concept c : this.concepts) {
      if (all.containsKey(List.of(c.word()))) {
        throw new IllegalArgumentException(
            "concept word: '"
                + c.word()
                + "' is already a caption word; name the concept with a new word");
      }
      all.put(List.of(c.word()), c);
    }
    all.entrySet().stream()
        .sorted(Comparator.comparingInt((Map.Entry<List<String>, Object> e) -> -e.getKey().size()))
        .forEach(e -> phrases.put(e.getKey(), e.getValue()));
  }

  private record PositionWord(Position position, boolean bare) {}

  /** One object being read. */
  private static final class Draft {
    final Object noun; // a Shape or a Concept
    Colour colour;
    Size size;
    Position position;

    Draft(Object noun) {
      this.noun = noun;
    }
  }

  /** The prompt {@code line} asks for; one-line errors say what is wrong and how to write it. */
  public EvalPrompt parse(String line) {
    String text = substitute(line);
    List<String> words = Captioner.words(text);
    List<Draft> objects = new ArrayList<>();
    Colour colour = null;
    Size size = null;
    Position leading = null;
    Background background = null;
    boolean afterNoun = false; // list-like words after a noun describe it until the next article
    int i = 0;
    while (i < words.size()) {
      Map.Entry<List<String>, Object> m = match(words, i);
      if (m == null) {
        if (FILLERS.contains(words.get(i))) {
          afterNoun &= !ARTICLES.contains(words.get(i));
          i++;
          continue;
        }
        throw new IllegalArgumentException(
            "prompt '"
                + line
                + "': unknown word '"
                + words.get(i)
                + "'; use the world's caption words and the concept placeholder {}");
      }
      Object v = m.getValue();
      Draft last = objects.isEmpty() ? null : objects.get(objects.size() - 1);
      if (v instanceof Shape || v instanceof Concept) {
        Draft d = new Draft(v);
        d.colour = colour;
        d.size = size;
        d.position = objects.isEmpty() ? leading : null;
        colour = null;
        size = null;
        objects.add(d);
        afterNoun = true;
      } else if (v instanceof Colour c) {
        if (afterNoun) {
          last.colour = set(line, "colour", last.colour, c);
        } else {
          colour = set(line, "colour", colour, c);
        }
      } else if (v instanceof Size s) {
        if (afterNoun) {
          last.size = set(line, "size", last.size, s);
        } else {
          size = set(line, "size", size, s);
        }
      } else if (v instanceof PositionWord p) {
        if (last != null && (afterNoun || !p.bare())) {
          last.position = set(line, "position", last.position, p.position());
        } else if (last == null && !p.bare()) {
          leading = set(line, "position", leading, p.position());
        } else {
          throw new IllegalArgumentException(
              "prompt '"
                  + line
                  + "': position word '"
                  + String.join(" ", m.getKey())
                  + "' describes no object");
        }
      } else if (v instanceof Background b) {
        background = set(line, "background", background, b);
      } else if (v instanceof Relation) {
        throw new IllegalArgumentException(
            "prompt '"
                + line
                + "': relations ('"
                + String.join(" ", m.getKey())
                + "') are not scored; give each object a position instead ('a {} on the left and a"
                + " blue circle on the right')");
      }
      i += m.getKey().size();
    }
    if (colour != null || size != null) {
      throw new IllegalArgumentException(
          "prompt '"
              + line
              + "': a colour or size word describes no object; end it with a shape word or {}");
    }
    if (objects.isEmpty() || objects.size() > 2) {
      throw new IllegalArgumentException(
          "prompt '"
              + line
              + "': asks for "
              + objects.size()
              + " objects; eval scores prompts of one or two");
    }
    List<EvalPrompt.Asked> asked = new ArrayList<>();
    for (Draft d : objects) {
      asked.add(asked(line, d));
    }
    boolean concept = objects.stream().anyMatch(d -> d.noun instanceof Concept);
    return new EvalPrompt(text, asked, background, concept);
  }

  private static EvalPrompt.Asked asked(String line, Draft d) {
    Set<Attribute> attrs = EnumSet.noneOf(Attribute.class);
    Position p =
        d.position == null
            ? Position.CENTRE
            : d.position; // unasked: a placeholder that no check reads
    Size s = d.size == null ? Size.LARGE : d.size;
    SceneObject o;
    boolean anyFill = false;
    if (d.noun instanceof Concept c) {
      if (d.colour != null) {
        throw new IllegalArgumentException(
            "prompt '"
                + line
                + "': colour word '"
                + d.colour.words().get(0)
                + "' on concept '"
                + c.word()
                + "'; the concept's colour is its spec's");
      }
      attrs.add(Attribute.CONCEPT);
      o = c.spec().object(p, s);
      anyFill = c.spec().anyFill();
    } else {
      Shape shape = (Shape) d.noun;
      attrs.add(Attribute.SHAPE);
      if (d.colour != null) {
        attrs.add(Attribute.COLOUR);
      }
      o = new SceneObject(shape, d.colour == null ? Colour.RED : d.colour, p, s);
    }
    if (d.size != null) {
      attrs.add(Attribute.SIZE);
    }
    if (d.position != null) {
      attrs.add(Attribute.POSITION);
    }
    return new EvalPrompt.Asked(o, attrs, anyFill);
  }

  private String substitute(String line) {
    Matcher m = PLACEHOLDER.matcher(line);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      int k = m.group(1).isEmpty() ? 1 : Integer.parseInt(m.group(1));
      if (k < 1 || k > concepts.size()) {
        throw new IllegalArgumentException(
            "prompt '"
                + line
                + "': "
                + m.group()
                + " names concept "
                + k
                + " but "
                + concepts.size()
                + " concept(s) are given; pass one --concept (and --expect) per placeholder");
      }
      m.appendReplacement(sb, concepts.get(k - 1).word());
    }
    m.appendTail(sb);
    return article(sb.toString().trim().replaceAll("\\s+", " "));
  }

  /** "a" before a vowel reads "an", as the captioner writes it. */
  private static String article(String text) {
    return text.replaceAll("(?i)\\ba (?=[aeiou])", "an ");
  }

  private Map.Entry<List<String>, Object> match(List<String> words, int i) {
    for (Map.Entry<List<String>, Object> e : phrases.entrySet()) {
      List<String> p = e.getKey();
      if (i + p.size() <= words.size() && words.subList(i, i + p.size()).equals(p)) {
        return e;
      }
    }
    return null;
  }

  private static <T> T set(String line, String what, T old, T value) {
    if (old != null && !old.equals(value)) {
      throw new IllegalArgumentException(
          "prompt '"
              + line
              + "': two "
              + what
              + "s for one object ('"
              + old.toString().toLowerCase(Locale.ROOT)
              + "' and '"
              + value.toString().toLowerCase(Locale.ROOT)
              + "')");
    }
    return value;
  }
}
