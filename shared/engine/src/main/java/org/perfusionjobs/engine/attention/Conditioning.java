package org.perfusionjobs.engine.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import java.util.ArrayList;
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
  private final List<Regional> regions; // boxes whose queries attend to their own text

  /**
   * A box of the image whose queries attend to {@code text} instead of the prompt in every
   * cross-attention layer (regional cross-attention; later regions win where boxes overlap).
   */
  public record Regional(Region box, Conditioning text) {
    public Regional {
      Objects.requireNonNull(box, "box");
      Objects.requireNonNull(text, "text");
    }
  }

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
    this.regions = List.of();
  }

  private Conditioning(Conditioning text, List<Regional> regions) {
    this.keyStates = text.keyStates;
    this.valueStates = text.valueStates;
    this.processor = text.processor;
    this.unetEdits = text.unetEdits;
    this.early = null;
    this.earlyShare = 0;
    this.regions = List.copyOf(regions);
  }

  private Conditioning(Conditioning late, Conditioning early, double earlyShare) {
    this.keyStates = late.keyStates;
    this.valueStates = late.valueStates;
    this.processor = late.processor;
    this.unetEdits = late.unetEdits;
    this.early = early;
    this.earlyShare = earlyShare;
    this.regions = late.regions;
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
    if (!early.regions.isEmpty() || !regions.isEmpty()) {
      throw new IllegalArgumentException("schedule the prompt first, then add its regions");
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

  /**
   * This prompt with regions: the queries of each box attend to its own text (e.g. one object's
   * phrase with its concept), the rest of the image to the prompt. Each text has this prompt's
   * batch (its guidance rows included) and UNet weight edits of the same effect. A prompt schedule
   * goes with the regions: each early part with the early prompt. Where only some of the texts are
   * scheduled (e.g. a concept's box drawn from its superclass first, and a plain prompt outside
   * it), the others keep their one text through both parts; the scheduled ones must share one
   * share.
   */
  public Conditioning withRegions(List<Region> boxes, List<Conditioning> texts) {
    if (boxes.isEmpty() || boxes.size() != texts.size()) {
      throw new IllegalArgumentException(
          "regions: one text per box, at least one, got "
              + boxes.size()
              + " boxes and "
              + texts.size()
              + " texts");
    }
    if (!regions.isEmpty()) {
      throw new IllegalArgumentException("this prompt has its regions already");
    }
    Double share = early == null ? null : earlyShare;
    for (Conditioning t : texts) {
      if (t.batchSize() != batchSize()
          || !t.unetEdits.sameEffectAs(unetEdits)
          || !t.regions.isEmpty()) {
        throw new IllegalArgumentException(
            "a region's text must have the prompt's batch and UNet weight edits, and no regions");
      }
      if (t.early != null && share != null && t.earlyShare != share) {
        throw new IllegalArgumentException(
            "a prompt and its regions' texts schedule their early text at different shares: "
                + t.earlyShare
                + " and "
                + share);
      }
      if (t.early != null) {
        share = t.earlyShare;
      }
    }
    List<Regional> late = new ArrayList<>();
    List<Regional> first = new ArrayList<>();
    for (int i = 0; i < boxes.size(); i++) {
      Conditioning t = texts.get(i);
      late.add(new Regional(boxes.get(i), t));
      first.add(new Regional(boxes.get(i), t.early == null ? t : t.early));
    }
    Conditioning lateWith = new Conditioning(this, late);
    return share == null
        ? lateWith
        : new Conditioning(lateWith, new Conditioning(early == null ? this : early, first), share);
  }

  /** The regions of this text (empty: the whole image attends to the prompt). */
  public List<Regional> regions() {
    return regions;
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
      if (!c.regions.isEmpty() || (c.early != null && !c.early.regions.isEmpty())) {
        throw new IllegalArgumentException("a request with regions runs in a UNet call of its own");
      }
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
