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
  /** A box of the image and the text its queries attend to. */
  public record RegionPrompt(Region box, String text) {
    public RegionPrompt {
      Objects.requireNonNull(box, "box");
      if (text == null || text.isBlank()) {
        throw new IllegalArgumentException("a region needs a text");
      }
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
    if (prompts.anchored()) {
      throw new IllegalArgumentException(
          "anchorPrompt: regions take no anchor prompt; drop the regions or the anchor");
    }
    Conditioning prompt = outside.condition(sd, prompts, m);
    List<Region> boxes = new ArrayList<>();
    List<Conditioning> texts = new ArrayList<>();
    for (RegionPrompt r : regions) {
      boxes.add(r.box());
      texts.add(
          base.condition(
              sd,
              new PromptBatch(
                  r.text(), prompts.negativePrompt(), prompts.batchSize(), prompts.guided()),
              m));
    }
    return prompt.withRegions(boxes, texts);
  }
}
