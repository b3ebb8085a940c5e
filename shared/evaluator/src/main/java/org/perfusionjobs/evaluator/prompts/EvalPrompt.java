package org.perfusionjobs.evaluator.prompts;

import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.SceneObject;

/**
 * A prompt and what it asks for: the objects it describes (the concept object, if any, first) and,
 * per object, which attributes its words fix; the background when {@code background} is set.
 */
public record EvalPrompt(String text, List<Asked> objects, Background background, boolean concept) {
  /**
   * One object of the prompt and the attributes its words fix; {@code anyFill}: its {@link
   * Attribute#CONCEPT} check reads shape and colour alone (a {@code pattern=any} concept spec).
   */
  public record Asked(SceneObject object, Set<Attribute> attributes, boolean anyFill) {
    public Asked {
      Objects.requireNonNull(object, "object");
      attributes = Set.copyOf(attributes);
    }

    public Asked(SceneObject object, Set<Attribute> attributes) {
      this(object, attributes, false);
    }

    /** What finds this object as a concept: its shape, colour and fill (any fill if so asked). */
    public ConceptSpec concept() {
      return new ConceptSpec(object.shape(), object.colour(), object.pattern(), anyFill);
    }
  }

  public EvalPrompt {
    Objects.requireNonNull(text, "text");
    objects = List.copyOf(objects);
    if (objects.isEmpty() || objects.size() > 2) {
      throw new IllegalArgumentException(
          "objects: a prompt asks for one or two objects, not " + objects.size());
    }
  }
}
