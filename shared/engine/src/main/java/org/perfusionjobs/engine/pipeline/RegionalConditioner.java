package org.perfusionjobs.engine.pipeline;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.attention.Region;

/**
 * Regional prompting through any conditioner: the prompt conditions the image, and each region's
 * box attends to its own text instead (for example one object's phrase, concept word included), in
 * every cross-attention layer. The method behind {@code base} (Perfusion, a baseline, plain text)
 * conditions every text the same way; the core only blends the attention outputs by box. Why: two
 * objects named in one prompt share every query's attention, so their looks mix and copies appear;
 * a box per phrase keeps each object's words to its own place.
 */
public final class RegionalConditioner implements Conditioner {
  /**
   * A box of the image, the text its queries attend to, and the box's anchor text for a request
   * guided through an anchor prompt ({@link GenerateRequest}; empty: none given).
   */
  public record RegionPrompt(Region box, String text, String anchor) {
    /** No anchor text. */
    public RegionPrompt(Region box, String text) {
      this(box, text, "");
    }

    public RegionPrompt {
      Objects.requireNonNull(box, "box");
      Objects.requireNonNull(anchor, "anchor");
      if (text == null || text.isBlank()) {
        throw new IllegalArgumentException("a region needs a text");
      }
    }

    /** This region with {@code anchor} as its anchor text. */
    public RegionPrompt withAnchor(String anchor) {
      return new RegionPrompt(box, text, anchor);
    }
  }

  private final Conditioner base;
  private final List<RegionPrompt> regions;
  private final Conditioner outside;

  private RegionalConditioner(Conditioner base, List<RegionPrompt> regions, Conditioner outside) {
    this.base = Objects.requireNonNull(base, "base");
    this.regions = List.copyOf(regions);
    this.outside = Objects.requireNonNull(outside, "outside");
  }

  /** {@code base} with these regions; {@code base} itself when there are none. */
  public static Conditioner of(Conditioner base, List<RegionPrompt> regions) {
    return regions.isEmpty() ? base : new RegionalConditioner(base, regions, base);
  }

  /**
   * {@code base} inside the regions only: the rest of the image attends to the prompt as {@code
   * outside} conditions it (for example the plain model with each concept word replaced by its
   * class word), so a concept's edit acts nowhere but in its box. {@code outside}'s UNet weight
   * edits must have the same effect as {@code base}'s.
   */
  public static Conditioner confined(
      Conditioner base, List<RegionPrompt> regions, Conditioner outside) {
    return regions.isEmpty() ? base : new RegionalConditioner(base, regions, outside);
  }

  public List<RegionPrompt> regions() {
    return regions;
  }

  @Override
  public Conditioning condition(StableDiffusionPipeline sd, PromptBatch prompts, NDManager m) {
    Conditioning prompt = outside.condition(sd, prompts, m);
    List<Region> boxes = new ArrayList<>();
    List<Conditioning> texts = new ArrayList<>();
    for (int i = 0; i < regions.size(); i++) {
      RegionPrompt r = regions.get(i);
      // An anchored request has an anchor row in every box as well: its own text's.
      if (prompts.anchored() && r.anchor().isEmpty()) {
        throw new IllegalArgumentException(
            "regions["
                + i
                + "].anchor: a request guided through an anchor prompt needs an anchor text in"
                + " every region; give one or drop the anchor");
      }
      boxes.add(r.box());
      texts.add(
          base.condition(
              sd,
              new PromptBatch(
                  r.text(),
                  prompts.negativePrompt(),
                  prompts.anchored() ? r.anchor() : "",
                  prompts.batchSize(),
                  prompts.guided()),
              m));
    }
    return prompt.withRegions(boxes, texts);
  }
}
