package org.perfusionjobs.evaluator.concepts;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.perfusionjobs.engine.config.Configs;

/**
 * The concepts the personalization benchmark trains and measures, kept as data in {@code
 * suite.json} beside this class: they differ in shape, colour and pattern, the demo concept {@code
 * zwx} among them.
 */
public final class ConceptSuite {
  static final String RESOURCE = "suite.json";

  private ConceptSuite() {}

  /** The suite, in file order. */
  public static List<SuiteConcept> load() {
    try (InputStream in = ConceptSuite.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(
            RESOURCE + " is missing beside " + ConceptSuite.class.getName());
      }
      return parse(Configs.json().readTree(in));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The suite concept named {@code word}, if any. */
  public static Optional<SuiteConcept> byWord(String word) {
    return load().stream().filter(c -> c.word().equals(word)).findFirst();
  }

  static List<SuiteConcept> parse(JsonNode root) {
    List<SuiteConcept> out = new ArrayList<>();
    for (JsonNode c : root.path("concepts")) {
      out.add(
          new SuiteConcept(
              c.path("word").asText(null),
              c.path("superclass").asText(null),
              ConceptSpec.parse(c.path("spec").asText(""))));
    }
    return out;
  }
}
