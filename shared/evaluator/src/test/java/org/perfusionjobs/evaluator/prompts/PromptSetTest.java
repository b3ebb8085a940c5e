package org.perfusionjobs.evaluator.prompts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;
import org.perfusionjobs.world.Captioner;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.World;

class PromptSetTest {
  private final Set<String> vocabulary = new World().vocabulary();

  @Test
  void basePromptsUseOnlyWorldWordsAndNameWhatTheyAsk() {
    List<EvalPrompt> set = PromptSet.base(2026, 200);
    assertEquals(200, set.size());
    assertEquals(set, PromptSet.base(2026, 200), "seeded");
    long two = set.stream().filter(p -> p.objects().size() == 2).count();
    assertTrue(two > 30 && two < 90, "about 30% two-object prompts: " + two);
    for (EvalPrompt p : set) {
      assertTrue(vocabulary.containsAll(Captioner.words(p.text())), p.text());
      for (EvalPrompt.Asked a : p.objects()) {
        String text = " " + p.text() + " ";
        assertTrue(text.contains(" " + a.object().shape().words().get(0) + " "), p.text());
        if (a.attributes().contains(Attribute.COLOUR)) {
          assertTrue(text.contains(" " + a.object().colour().words().get(0) + " "), p.text());
        }
        if (a.attributes().contains(Attribute.POSITION)) {
          assertTrue(text.contains(" " + a.object().position().phrases().get(0) + " "), p.text());
        }
        if (a.attributes().contains(Attribute.SIZE)) {
          assertTrue(text.contains(" " + a.object().size().words().get(0) + " "), p.text());
        }
      }
      if (p.background() != null) {
        assertTrue(
            p.text().endsWith(" on a " + p.background().words().get(0) + " background"), p.text());
      }
    }
  }

  @Test
  void conceptPromptsPutTheWordWhereTheSuperclassWouldStand() {
    List<EvalPrompt> set = PromptSet.concept("zwx", 5, 50);
    for (EvalPrompt p : set) {
      assertTrue(p.concept() && p.text().contains(" zwx"), p.text());
      assertTrue(p.objects().get(0).attributes().contains(Attribute.CONCEPT));
      List<String> words =
          Captioner.words(p.text()).stream().filter(w -> !w.equals("zwx")).toList();
      assertTrue(vocabulary.containsAll(words), p.text());
    }
    assertEquals(
        10,
        set.stream().filter(p -> p.objects().size() == 2).count(),
        "every fifth prompt has a second object");
  }

  @Test
  void aPatternAnySpecMarksTheConceptAndOnlyIt() {
    List<EvalPrompt> any =
        PromptSet.concept("red circle", ConceptSpec.anyFill(Shape.CIRCLE, Colour.RED), 5, 10);
    List<EvalPrompt> plain =
        PromptSet.concept(
            "red circle", new ConceptSpec(Shape.CIRCLE, Colour.RED, Pattern.PLAIN), 5, 10);
    for (int i = 0; i < any.size(); i++) {
      EvalPrompt p = any.get(i);
      assertEquals(plain.get(i).text(), p.text(), "the same prompts either way");
      assertTrue(p.objects().get(0).anyFill() && !plain.get(i).objects().get(0).anyFill());
      assertTrue(p.objects().stream().skip(1).noneMatch(EvalPrompt.Asked::anyFill), p.text());
    }
  }
}
