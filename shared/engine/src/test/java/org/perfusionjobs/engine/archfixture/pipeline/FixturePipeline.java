package org.perfusionjobs.engine.archfixture.pipeline;

import org.perfusionjobs.engine.archfixture.perfusion.FixtureConcept;

/** A core class that knows a method and is known by it: what the layering rules must catch. */
public final class FixturePipeline {
  FixtureConcept concept;
}
