package org.perfusionjobs.engine.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.perfusionjobs.engine.nn.WeightEdits;

/**
 * The text side of cross-attention for one prompt batch, and the K/V each cross-attention layer
 * made from it. K and V depend only on the text, so a layer projects them on first use and every
 * later denoising step reuses them. Create one per request (or per training step, where the text
 * encoding changes), in that request's NDManager scope.
 *
 * <p>keyStates and valueStates are (B, T, D); they are the same array unless global key-locking
 * feeds the K path a superclass-substituted prompt.
 */
public final class Conditioning {
  private final NDArray keyStates; // (B, T, D)
  private final NDArray valueStates; // (B, T, D)
  private final Map<Attention, KeyValue> cache = new IdentityHashMap<>();
  private final AttentionProcessor processor; // null: each layer's own processor
  private final WeightEdits unetEdits; // in force on the UNet while it runs with this conditioning
  private final Conditioning early; // the first steps' text (a prompt schedule), or null
  private final double earlyShare; // of the denoising steps that use early

  public Conditioning(NDArray keyStates, NDArray valueStates) {
    this(keyStates, valueStates, null);
  }

  /**
   * @param processor used for every cross-attention layer of this request instead of the layer's
   *     own (how a per-request edit such as Perfusion's is applied without touching the model)
   */
  public Conditioning(NDArray keyStates, NDArray valueStates, AttentionProcessor processor) {
    this(keyStates, valueStates, processor, WeightEdits.NONE);
  }

  /**
   * @param unetEdits weights the UNet uses instead of (or beside) its own while it runs with this
   *     conditioning, K/V projection included (how a method that changes weights, such as a LoRA or
   *     a fine-tuned UNet, is applied per request without touching the shared model)
   */
  public Conditioning(
      NDArray keyStates, NDArray valueStates, AttentionProcessor processor, WeightEdits unetEdits) {
    if (!keyStates.getShape().equals(valueStates.getShape())) {
      throw new IllegalArgumentException(
          "key states "
              + keyStates.getShape()
              + " and value states "
              + valueStates.getShape()
              + " differ");
    }
    this.keyStates = keyStates;
    this.valueStates = valueStates;
    this.processor = processor;
    this.unetEdits = Objects.requireNonNull(unetEdits, "unetEdits");
    this.early = null;
    this.earlyShare = 0;
  }

  private Conditioning(Conditioning late, Conditioning early, double earlyShare) {
    this.keyStates = late.keyStates;
    this.valueStates = late.valueStates;
    this.processor = late.processor;
    this.unetEdits = late.unetEdits;
    this.early = early;
    this.earlyShare = earlyShare;
  }

  /**
   * A prompt schedule: {@code early} conditions the first {@code share} of the denoising steps
   * (rounded to whole steps), this text the rest. Diffusion decides a scene's layout in its first
   * steps and the look of its objects later, so a method may let a plainer text lay the scene out
   * before its own conditioning takes over. Both must have the same batch and UNet weight edits
   * (requests are grouped into UNet calls by their edits).
   */
  public Conditioning withEarly(Conditioning early, double share) {
    if (!(share >= 0 && share <= 1)) {
      throw new IllegalArgumentException("early share must be in [0, 1], got " + share);
    }
    if (early.early != null || this.early != null) {
      throw new IllegalArgumentException("a prompt schedule has two parts, not more");
    }
    if (!early.unetEdits.sameEffectAs(unetEdits) || early.batchSize() != batchSize()) {
      throw new IllegalArgumentException(
          "the early text must have this conditioning's batch and UNet weight edits");
    }
    return new Conditioning(this, early, share);
  }

  /** The text that conditions denoising step {@code step} (0-based) of {@code steps}. */
  public Conditioning atStep(int step, int steps) {
    return early != null && step < Math.round(earlyShare * steps) ? early : this;
  }

  /** Every text this conditioning uses over the denoising: itself, and its early part if any. */
  public List<Conditioning> parts() {
    return early == null ? List.of(this) : List.of(early, this);
  }

  /**
   * Several requests' conditionings stacked along the batch, in order, for one UNet call that
   * serves them all: each cross-attention layer's K/V is the concatenation of the parts' own
   * (projected by each part's processor), so every row attends to its own request's text. The parts
   * must have UNet weight edits of the same effect ({@link WeightEdits#shareKey}; a weight edit
   * changes the whole model, not a row).
   *
   * @param layers every cross-attention layer of the UNet the result is used with
   */
  public static Conditioning stacked(List<Conditioning> parts, Iterable<Attention> layers) {
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("no conditioning to stack");
    }
    if (parts.size() == 1) {
      return parts.get(0);
    }
    WeightEdits edits = parts.get(0).unetEdits;
    NDList keys = new NDList();
    NDList values = new NDList();
    for (Conditioning c : parts) {
      if (!c.unetEdits.sameEffectAs(edits)) {
        throw new IllegalArgumentException(
            "requests with different UNet weight edits cannot share a UNet call");
      }
      keys.add(c.keyStates);
      values.add(c.valueStates);
    }
    Conditioning out =
        new Conditioning(NDArrays.concat(keys), NDArrays.concat(values), null, edits);
    for (Attention a : layers) {
      NDList k = new NDList();
      NDList v = new NDList();
      for (Conditioning c : parts) {
        KeyValue kv = c.keyValue(a);
        k.add(kv.key());
        v.add(kv.value());
      }
      out.cache.put(a, new KeyValue(NDArrays.concat(k), NDArrays.concat(v)));
    }
    return out;
  }

  /** Plain conditioning: both paths see the same encoding. */
  public static Conditioning of(NDArray encoderHiddenStates) {
    return new Conditioning(encoderHiddenStates, encoderHiddenStates);
  }

  public NDArray keyStates() {
    return keyStates;
  }

  public NDArray valueStates() {
    return valueStates;
  }

  /** The same text with these UNet weight edits (and an empty K/V cache; no schedule). */
  public Conditioning withUnetEdits(WeightEdits edits) {
    return new Conditioning(keyStates, valueStates, processor, edits);
  }

  /** The UNet weight edits of this request; {@link WeightEdits#NONE} for the plain model. */
  public WeightEdits unetEdits() {
    return unetEdits;
  }

  /** The request's processor, or null when each layer uses its own. */
  public AttentionProcessor processor() {
    return processor;
  }

  public long batchSize() {
    return valueStates.getShape().get(0);
  }

  /** K/V of {@code attn} for this text, projected once and then reused. */
  public KeyValue keyValue(Attention attn) {
    KeyValue kv = cache.get(attn);
    if (kv == null) {
      kv =
          processor == null
              ? attn.keyValue(keyStates, valueStates)
              : processor.keyValue(attn, keyStates, valueStates);
      cache.put(attn, kv);
    }
    return kv;
  }

  /** Number of layers whose K/V are cached (for tests of the once-per-prompt property). */
  public int cachedLayers() {
    return cache.size();
  }
}
