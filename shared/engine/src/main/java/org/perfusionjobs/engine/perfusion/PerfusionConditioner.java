package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.pipeline.Conditioner;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.PromptBatch;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * Perfusion at generation (method page, sections 3 and 6): each concept word becomes one added
 * token whose input embedding is the learned one; every cross-attention layer gets the gated rank-1
 * processor. With global key-locking the K path sees the prompt with each concept word replaced by
 * its superclass word, the V path the real prompt. With a {@link SuperclassLayout} share (beyond
 * the paper) the first steps see that superclass prompt alone, unedited.
 */
final class PerfusionConditioner implements Conditioner {
  private final PerfusionModel model;
  private final List<ConceptUse> uses;
  private final boolean globalLock;

  PerfusionConditioner(PerfusionModel model, List<ConceptUse> uses, boolean globalLock) {
    if (uses.isEmpty()) {
      throw new IllegalArgumentException("a Perfusion conditioning needs at least one concept");
    }
    Set<String> words = new HashSet<>();
    for (ConceptUse u : uses) {
      if (!words.add(u.concept().placeholder().toLowerCase(Locale.ROOT))) {
        throw new IllegalArgumentException(
            "concepts: placeholder '" + u.concept().placeholder() + "' is used twice");
      }
    }
    this.model = model;
    this.uses = List.copyOf(uses);
    this.globalLock = globalLock;
  }

  PerfusionModel model() {
    return model;
  }

  /** The concepts' words, in the order of their gates. */
  List<String> placeholders() {
    return uses.stream().map(u -> u.concept().placeholder()).toList();
  }

  @Override
  public Conditioning condition(StableDiffusionPipeline sd, PromptBatch prompts, NDManager m) {
    if (sd != model.pipeline()) {
      throw new IllegalArgumentException(
          "this Perfusion conditioning belongs to another pipeline ("
              + model.pipeline().folder().root()
              + ")");
    }
    List<Concept> concepts = uses.stream().map(ConceptUse::concept).toList();
    Covariance cov = model.covariance();
    int width = sd.textEncoder().config().hiddenSize();
    for (Concept c : concepts) {
      ConceptCompatibility.check(c, sd.baseModelId(), cov, width, sd.unet().crossAttentions());
    }
    EngineOptions options = sd.options();
    ClipTokenizer tok = model.tokenizerWith(concepts.stream().map(Concept::placeholder).toList());
    NDArray added =
        m.create(stackEmbeddings(concepts), new Shape(concepts.size(), width))
            .toType(options.dtype(), false)
            .toDevice(options.device(), false);
    NDArray ids = tok.encode(prompts.rows(), m);
    NDArray values = sd.textEncoder().forward(ids.toDevice(options.device(), false), added);
    long[] tokenIds = concepts.stream().mapToLong(c -> tok.addedTokenId(c.placeholder())).toArray();
    if (concepts.size() > 1
        && concepts.stream().anyMatch(c -> PhraseEncoding.of(c) == PhraseEncoding.APART)) {
      values =
          PhraseEncoding.splice(
              values,
              ids,
              tokenIds,
              PhraseEncoding.JOINERS.stream()
                  .map(tok::tokenId)
                  .filter(OptionalInt::isPresent)
                  .mapToLong(OptionalInt::getAsInt)
                  .toArray(),
              tok.bosId(),
              tok.padId(),
              x -> sd.textEncoder().forward(x.toDevice(options.device(), false), added),
              m);
    }
    NDArray keys = globalLock ? encodeSuperclass(sd, prompts, concepts, m) : values;
    List<ConceptEdit> edits = new ArrayList<>();
    for (ConceptUse u : uses) {
      edits.add(ConceptEdits.toEdit(u, m, options));
    }
    PerfusionProcessor processor = new PerfusionProcessor(cov, edits, m, options.dtype());
    if (concepts.stream().anyMatch(c -> GateScope.of(c) != GateScope.ALL)) {
      // With global locking the K path reads other tokens (the superclass's): only V is confined.
      NDArray mask =
          GateScope.mask(ids, tokenIds, concepts.stream().map(GateScope::of).toList(), m);
      processor.confine(
          values, mask.toType(options.dtype(), false).toDevice(options.device(), false));
    }
    Conditioning edited = new Conditioning(keys, values, processor);
    double layout = concepts.stream().mapToDouble(SuperclassLayout::of).max().orElse(0);
    if (layout == 0) {
      return edited;
    }
    NDArray superclass = globalLock ? keys : encodeSuperclass(sd, prompts, concepts, m);
    return edited.withEarly(Conditioning.of(superclass), layout);
  }

  /** The text encoder's output for {@link #superclassPrompt} of every row of {@code prompts}. */
  static NDArray encodeSuperclass(
      StableDiffusionPipeline sd, PromptBatch prompts, List<Concept> concepts, NDManager m) {
    return sd.encodePrompts(prompts.rows(superclassPrompt(prompts.prompt(), concepts)), m);
  }

  /** The prompt with each concept word, as a whole word in any case, replaced by its superclass. */
  static String superclassPrompt(String prompt, List<Concept> concepts) {
    String out = prompt;
    for (Concept c : concepts) {
      out =
          out.replaceAll(
              "(?i)(?<![\\p{L}\\p{N}])" + Pattern.quote(c.placeholder()) + "(?![\\p{L}\\p{N}])",
              Matcher.quoteReplacement(c.superclass()));
    }
    return out;
  }

  private static float[] stackEmbeddings(List<Concept> concepts) {
    int d = concepts.get(0).embedding().length;
    float[] flat = new float[concepts.size() * d];
    for (int i = 0; i < concepts.size(); i++) {
      System.arraycopy(concepts.get(i).embedding(), 0, flat, i * d, d);
    }
    return flat;
  }
}
