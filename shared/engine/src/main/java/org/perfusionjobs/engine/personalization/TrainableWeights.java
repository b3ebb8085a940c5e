package org.perfusionjobs.engine.personalization;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.nn.LinearDelta;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.nn.WeightEdits;
import org.perfusionjobs.engine.personalization.lora.Lora;

/**
 * The weights a baseline trains, as {@link Parameter}s outside the model: the word's embedding,
 * LoRA factor pairs per UNet Linear path, and trainable copies of UNet parameters that replace the
 * model's own (by checkpoint key) while training runs.
 */
public final class TrainableWeights {
  private final Parameter embedding; // (D) or null
  private final Map<String, Parameter[]> lora =
      new LinkedHashMap<>(); // path -> {down (r, in), up (out, r)}
  private final Map<String, Parameter> overrides = new LinkedHashMap<>(); // unet key -> copy

  public TrainableWeights(Parameter embedding) {
    this.embedding = embedding;
  }

  public TrainableWeights addLora(String linearPath, Parameter down, Parameter up) {
    lora.put(linearPath, new Parameter[] {down, up});
    return this;
  }

  public TrainableWeights addOverride(String unetKey, Parameter copy) {
    overrides.put(unetKey, copy);
    return this;
  }

  /** A copy of a model weight owned by {@code m} (the model's own array is never trained). */
  public static NDArray copy(NDArray weight, ai.djl.ndarray.NDManager m) {
    NDArray c = weight.duplicate();
    c.attach(m);
    return c;
  }

  public Parameter embedding() {
    return embedding;
  }

  /** Everything the optimiser updates; the embedding, when there is one, last. */
  public List<Parameter> parameters() {
    List<Parameter> out = new ArrayList<>();
    lora.values().forEach(p -> out.addAll(List.of(p)));
    out.addAll(overrides.values());
    if (embedding != null) {
      out.add(embedding);
    }
    return out;
  }

  /** Number of scalars trained. */
  public long count() {
    return parameters().stream().mapToLong(p -> p.shape().size()).sum();
  }

  /**
   * The UNet edits of the current values (LoRA at scale 1); make anew after each optimiser step.
   */
  public WeightEdits edits() {
    Map<String, LinearDelta> deltas = new LinkedHashMap<>();
    lora.forEach((path, p) -> deltas.put(path, Lora.delta(p[0].get(), p[1].get(), 1f)));
    Map<String, NDArray> values = new LinkedHashMap<>();
    overrides.forEach((key, p) -> values.put(key, p.get()));
    return new WeightEdits(deltas, values);
  }

  /** The host copy of what was learned, named as in a {@link BaselineConcept}. */
  public Map<String, HostTensor> tensors() {
    Map<String, HostTensor> out = new LinkedHashMap<>();
    lora.forEach(
        (path, p) -> {
          out.put(BaselineConcept.LORA_DOWN + path, HostTensor.of(p[0].get()));
          out.put(BaselineConcept.LORA_UP + path, HostTensor.of(p[1].get()));
        });
    overrides.forEach((key, p) -> out.put(BaselineConcept.UNET + key, HostTensor.of(p.get())));
    return out;
  }
}
