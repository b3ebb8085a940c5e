package org.perfusionjobs.engine.perfusion;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.clip.ClipTokenizer;

/**
 * The base tokenizer with concept words added, for the most recent sets of words. Building one
 * re-reads the whole vocabulary (49,408 entries for SD), so recent ones are kept; the least
 * recently used is closed beyond {@value #CAPACITY}.
 */
final class ConceptTokenizers implements AutoCloseable {
  private static final int CAPACITY = 32;

  private final ClipTokenizer base;
  private final Map<List<String>, ClipTokenizer> recent =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<List<String>, ClipTokenizer> eldest) {
          if (size() > CAPACITY) {
            eldest.getValue().close();
            return true;
          }
          return false;
        }
      };

  ConceptTokenizers(ClipTokenizer base) {
    this.base = base;
  }

  /** The tokenizer with these words added, in this order (so ids match the stacked embeddings). */
  synchronized ClipTokenizer with(List<String> words) {
    return recent.computeIfAbsent(List.copyOf(words), base::withAddedTokens);
  }

  @Override
  public synchronized void close() {
    recent.values().forEach(ClipTokenizer::close);
    recent.clear();
  }
}
