package org.perfusionjobs.cli;

import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.GateScope;
import org.perfusionjobs.engine.perfusion.PhraseEncoding;

/**
 * The run-time overrides of a Perfusion concept's own settings that {@code eval} and {@code
 * concept-gates} share ({@code --gate-scope}, {@code --phrases}); null keeps the file's.
 */
final class ConceptOverrides {
  private ConceptOverrides() {}

  static Concept apply(Concept c, String gateScope, String phrases) {
    Concept out = gateScope == null ? c : GateScope.parse(gateScope).apply(c);
    return phrases == null ? out : PhraseEncoding.parse(phrases).apply(out);
  }
}
