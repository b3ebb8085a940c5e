package org.perfusionjobs.cli;

import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.GateScope;
import org.perfusionjobs.engine.perfusion.PhraseEncoding;
import org.perfusionjobs.engine.perfusion.SuperclassLayout;

/**
 * The run-time overrides of a Perfusion concept's own settings that {@code eval} and {@code
 * concept-gates} share ({@code --gate-scope}, {@code --phrases}, and eval's {@code
 * --superclass-layout}); a null field keeps the file's setting.
 */
record ConceptOverrides(String gateScope, String phrases, String superclassLayout) {

  /** concept-gates' overrides: gates are per token, not per denoising step. */
  static ConceptOverrides ofGates(String gateScope, String phrases) {
    return new ConceptOverrides(gateScope, phrases, null);
  }

  Concept apply(Concept c) {
    Concept out = gateScope == null ? c : GateScope.parse(gateScope).apply(c);
    out = phrases == null ? out : PhraseEncoding.parse(phrases).apply(out);
    return superclassLayout == null
        ? out
        : SuperclassLayout.apply(out, SuperclassLayout.parse(superclassLayout));
  }
}
