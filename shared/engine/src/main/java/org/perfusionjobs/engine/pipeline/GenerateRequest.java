package org.perfusionjobs.engine.pipeline;

import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.perfusionjobs.engine.scheduler.SamplerKind;

/**
 * One text-to-image request. Width and height of 0 mean "what the checkpoint implies" (UNet sample
 * size times the VAE factor). Use {@link #builder(String)}; defaults follow diffusers' pipeline
 * except the step count. The {@link Conditioner} decides how the text conditions the UNet ({@link
 * Conditioner#PLAIN} by default); personalization methods such as Perfusion supply their own.
 *
 * <p>An anchor prompt splits classifier-free guidance in two: eps = u + guidanceScale (a - u) +
 * anchorGuidanceScale (c - a), with u, a and c the noise predictions for the negative prompt, the
 * anchor and the prompt. With both scales equal it is plain guidance; a smaller second scale
 * follows what the anchor shares with the prompt (layout, count, position) more than what only the
 * prompt says (a personalized concept's look, when the anchor names its superclass instead). It
 * costs a third UNet row per image.
 */
public record GenerateRequest(
    String prompt,
    String negativePrompt,
    int steps,
    float guidanceScale,
    String anchorPrompt,
    float anchorGuidanceScale,
    long seed,
    int width,
    int height,
    int batchSize,
    SamplerKind sampler,
    float eta,
    InitialLatents latents,
    Conditioner conditioner,
    Consumer<StepProgress> onStep,
    BooleanSupplier cancelled) {

  public GenerateRequest {
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(negativePrompt, "negativePrompt");
    Objects.requireNonNull(anchorPrompt, "anchorPrompt");
    Objects.requireNonNull(sampler, "sampler");
    Objects.requireNonNull(conditioner, "conditioner");
    Objects.requireNonNull(onStep, "onStep");
    Objects.requireNonNull(cancelled, "cancelled");
    if (steps < 1 || steps > 1000) {
      throw new IllegalArgumentException("steps must be in 1..1000, got " + steps);
    }
    if (!(guidanceScale >= 0 && guidanceScale <= 50)) {
      throw new IllegalArgumentException("guidance must be in 0..50, got " + guidanceScale);
    }
    if (!(anchorGuidanceScale >= 0 && anchorGuidanceScale <= 50)) {
      throw new IllegalArgumentException(
          "anchor guidance must be in 0..50, got " + anchorGuidanceScale);
    }
    if (!anchorPrompt.isEmpty() && !(guidanceScale > 1f)) {
      throw new IllegalArgumentException(
          "an anchor prompt needs classifier-free guidance: set guidance above 1 or drop the"
              + " anchor");
    }
    if (batchSize < 1 || batchSize > 64) {
      throw new IllegalArgumentException("batch size must be in 1..64, got " + batchSize);
    }
    if (width < 0 || height < 0 || width > 4096 || height > 4096) {
      throw new IllegalArgumentException("size must be in 0..4096, got " + width + "x" + height);
    }
    if (!(eta >= 0 && eta <= 1)) {
      throw new IllegalArgumentException("eta must be in 0..1, got " + eta);
    }
  }

  /** Whether classifier-free guidance runs (an unconditional branch is only needed above 1). */
  public boolean guided() {
    return guidanceScale > 1f;
  }

  /** Whether guidance runs through an anchor prompt (three rows per image). */
  public boolean anchored() {
    return guided() && !anchorPrompt.isEmpty();
  }

  /** The text rows this request sends to the text encoder. */
  public PromptBatch promptBatch() {
    return new PromptBatch(prompt, negativePrompt, anchorPrompt, batchSize, guided());
  }

  public static Builder builder(String prompt) {
    return new Builder(prompt);
  }

  public Builder toBuilder() {
    Builder b = new Builder(prompt);
    b.negativePrompt = negativePrompt;
    b.steps = steps;
    b.guidanceScale = guidanceScale;
    b.anchorPrompt = anchorPrompt;
    b.anchorGuidanceScale = anchorGuidanceScale;
    b.seed = seed;
    b.width = width;
    b.height = height;
    b.batchSize = batchSize;
    b.sampler = sampler;
    b.eta = eta;
    b.latents = latents;
    b.conditioner = conditioner;
    b.onStep = onStep;
    b.cancelled = cancelled;
    return b;
  }

  /** Builder with {@code optX} setters for the optional values. */
  public static final class Builder {
    private final String prompt;
    private String negativePrompt = "";
    private int steps = 25;
    private float guidanceScale = 7.5f;
    private String anchorPrompt = "";
    private float anchorGuidanceScale;
    private long seed = 0;
    private int width;
    private int height;
    private int batchSize = 1;
    private SamplerKind sampler = SamplerKind.DDIM;
    private float eta;
    private InitialLatents latents;
    private Conditioner conditioner = Conditioner.PLAIN;
    private Consumer<StepProgress> onStep = p -> {};
    private BooleanSupplier cancelled = () -> false;

    private Builder(String prompt) {
      this.prompt = prompt;
    }

    public Builder optNegativePrompt(String v) {
      negativePrompt = v;
      return this;
    }

    public Builder optSteps(int v) {
      steps = v;
      return this;
    }

    public Builder optGuidanceScale(float v) {
      guidanceScale = v;
      return this;
    }

    /**
     * Guidance through {@code anchor}: {@code guidanceScale} toward the anchor, {@code scale} from
     * the anchor to the prompt (see the class comment).
     */
    public Builder optAnchor(String anchor, float scale) {
      anchorPrompt = anchor;
      anchorGuidanceScale = scale;
      return this;
    }

    public Builder optSeed(long v) {
      seed = v;
      return this;
    }

    public Builder optSize(int w, int h) {
      width = w;
      height = h;
      return this;
    }

    public Builder optBatchSize(int v) {
      batchSize = v;
      return this;
    }

    public Builder optSampler(SamplerKind v) {
      sampler = v;
      return this;
    }

    public Builder optEta(float v) {
      eta = v;
      return this;
    }

    public Builder optLatents(InitialLatents v) {
      latents = v;
      return this;
    }

    public Builder optConditioner(Conditioner v) {
      conditioner = v;
      return this;
    }

    public Builder optOnStep(Consumer<StepProgress> v) {
      onStep = v;
      return this;
    }

    public Builder optCancelled(BooleanSupplier v) {
      cancelled = v;
      return this;
    }

    public GenerateRequest build() {
      return new GenerateRequest(
          prompt,
          negativePrompt,
          steps,
          guidanceScale,
          anchorPrompt,
          anchorGuidanceScale,
          seed,
          width,
          height,
          batchSize,
          sampler,
          eta,
          latents,
          conditioner,
          onStep,
          cancelled);
    }
  }
}
