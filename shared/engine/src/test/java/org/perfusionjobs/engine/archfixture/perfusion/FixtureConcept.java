package org.perfusionjobs.engine.archfixture.perfusion;

import org.perfusionjobs.engine.archfixture.pipeline.FixturePipeline;

/** The method side of {@link FixturePipeline}'s wrong-way dependency, closing a cycle. */
public final class FixtureConcept {
  FixturePipeline pipeline;
}
