package org.perfusionjobs.engine.personalization;

import java.util.LinkedHashMap;
import java.util.Map;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * The pipeline's tokenizer with one added word, per word, kept with the pipeline (building one
 * re-reads the whole vocabulary); the least recently used is closed beyond {@value #CAPACITY}.
 */
final class AddedTokenizers implements AutoCloseable {
  private static final int CAPACITY = 16;
  private final ClipTokenizer base;
  private final Map<String, ClipTokenizer> recent =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, ClipTokenizer> eldest) {
          if (size() > CAPACITY) {
            eldest.getValue().close();
            return true;
          }
          return false;
        }
      };

  private AddedTokenizers(ClipTokenizer base) {
    this.base = base;
  }

  static ClipTokenizer with(StableDiffusionPipeline sd, String word) {
    return sd.extension(AddedTokenizers.class, p -> new AddedTokenizers(p.tokenizer())).get(word);
  }

  private synchronized ClipTokenizer get(String word) {
    return recent.computeIfAbsent(word, w -> base.withAddedTokens(java.util.List.of(w)));
  }

  @Override
  public synchronized void close() {
    recent.values().forEach(ClipTokenizer::close);
    recent.clear();
  }
}
