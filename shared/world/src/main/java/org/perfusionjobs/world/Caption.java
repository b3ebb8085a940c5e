package org.perfusionjobs.world;

import java.util.List;

/**
 * A caption and what it says: the objects it names in the order it names them, which of their
 * attributes it mentions, the relation phrase between them (or null) and the background (or null
 * when unsaid). The labels a text encoder can be taught from, without parsing the text back.
 */
public record Caption(
    String text, List<Mention> objects, Relation relation, Background background) {
  public Caption {
    objects = List.copyOf(objects);
  }

  /** One named object; its shape is always said. */
  public record Mention(SceneObject object, boolean colour, boolean size, boolean position) {}
}
