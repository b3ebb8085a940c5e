package org.perfusionjobs.engine.perfusion;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.pipeline.Conditioner;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * Perfusion's side of one base model: its Cinv, its training templates and the tokenizers with
 * concept words, kept with the pipeline ({@link #of}) for as long as it lives. Requests use
 * concepts through {@link #conditioner}; the pipeline itself knows nothing of Perfusion.
 */
public final class PerfusionModel implements AutoCloseable {
  private final StableDiffusionPipeline sd;
  private final ConceptTokenizers tokenizers;
  private Covariance covariance;

  private PerfusionModel(StableDiffusionPipeline sd) {
    this.sd = sd;
    this.tokenizers = new ConceptTokenizers(sd.tokenizer());
  }

  /** The one PerfusionModel of this pipeline, made on first use. */
  public static PerfusionModel of(StableDiffusionPipeline sd) {
    return sd.extension(PerfusionModel.class, PerfusionModel::new);
  }

  public StableDiffusionPipeline pipeline() {
    return sd;
  }

  /** The Cinv of this base model: set explicitly, or read from the model folder. */
  public synchronized Covariance covariance() {
    if (covariance == null) {
      Path file = sd.folder().root().resolve(Covariance.FILE_NAME);
      if (!Files.isRegularFile(file)) {
        throw new IllegalStateException(
            "no Perfusion covariance for "
                + sd.folder().root()
                + ": run `perfusion covariance --model "
                + sd.folder().root()
                + "` first (expected "
                + file
                + ")");
      }
      try {
        covariance = Covariance.load(file);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return covariance;
  }

  public synchronized void setCovariance(Covariance cov) {
    int width = sd.textEncoder().config().hiddenSize();
    if (cov.dim() != width) {
      throw new IllegalArgumentException(
          "Cinv is " + cov.dim() + " wide but the text encoder is " + width);
    }
    this.covariance = cov;
  }

  /**
   * The base tokenizer with these concept words added, in this order (ids match the embeddings).
   */
  public ClipTokenizer tokenizerWith(List<String> placeholders) {
    return tokenizers.with(placeholders);
  }

  /** {@link TrainingTemplates#read} of this model's folder. */
  public List<String> trainingTemplates() throws IOException {
    return TrainingTemplates.read(sd.folder().root());
  }

  /** A trainer against this model's Cinv and base model id. */
  public PerfusionTrainer trainer() {
    return new PerfusionTrainer(sd, covariance(), sd.baseModelId());
  }

  /**
   * The conditioning of a request that uses these concepts: {@link Conditioner#PLAIN} when there
   * are none (exactly the plain model).
   *
   * @param globalLock feed the K path the prompt with each concept word replaced by its superclass
   *     (use a lower beta with it)
   * @throws IllegalArgumentException for a placeholder used twice, or global locking without a
   *     concept
   */
  public Conditioner conditioner(List<ConceptUse> uses, boolean globalLock) {
    if (uses.isEmpty()) {
      if (globalLock) {
        throw new IllegalArgumentException("globalLock needs at least one concept");
      }
      return Conditioner.PLAIN;
    }
    return new PerfusionConditioner(this, uses, globalLock);
  }

  /**
   * The plain model on the prompt with each concept word replaced by its superclass, no edit: what
   * the image outside a concept's region sees when the concept is confined to it (and what the
   * superclass layout draws first). No concepts: {@link Conditioner#PLAIN}.
   */
  public Conditioner superclassConditioner(List<ConceptUse> uses) {
    if (uses.isEmpty()) {
      return Conditioner.PLAIN;
    }
    List<Concept> concepts = uses.stream().map(ConceptUse::concept).toList();
    return (sd, prompts, m) ->
        Conditioning.of(PerfusionConditioner.encodeSuperclass(sd, prompts, concepts, m));
  }

  /** How the concepts' gates open over the tokens of {@code prompt} (see {@link TokenGates}). */
  public TokenGates tokenGates(String prompt, List<ConceptUse> uses) {
    if (uses.isEmpty()) {
      throw new IllegalArgumentException("tokenGates needs at least one concept");
    }
    return TokenGates.of(new PerfusionConditioner(this, uses, false), prompt);
  }

  @Override
  public void close() {
    tokenizers.close();
  }
}
