package org.perfusionjobs.engine.personalization;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.io.ModelLoadException;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.personalization.customdiffusion.CustomDiffusion;
import org.perfusionjobs.engine.personalization.dreambooth.DreamBooth;
import org.perfusionjobs.engine.personalization.lora.Lora;
import org.perfusionjobs.engine.personalization.textualinversion.TextualInversion;
import org.perfusionjobs.engine.pipeline.Conditioner;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * Every personalization method behind one door: which method a concept file is ({@value
 * #METHOD_KEY} in its safetensors metadata; Perfusion's files from before it carry their own
 * format), the baseline methods by name, and the {@link Conditioner} of a request from {@code
 * FILE[:a[:b]]} specs, whatever the files' method.
 */
public final class Personalization {
  /** Metadata key naming a concept file's method. */
  public static final String METHOD_KEY = "method";

  public static final String PERFUSION = "perfusion";

  private static final List<BaselineMethod> BASELINES =
      List.of(new TextualInversion(), new CustomDiffusion(), new Lora(), new DreamBooth());

  private Personalization() {}

  /** All method names, Perfusion first. */
  public static List<String> methodNames() {
    List<String> out = new ArrayList<>(List.of(PERFUSION));
    BASELINES.forEach(b -> out.add(b.name()));
    return out;
  }

  /** The baseline method called {@code name}. */
  public static BaselineMethod baseline(String name) {
    return BASELINES.stream()
        .filter(b -> b.name().equals(name))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "unknown method '" + name + "'; known: " + String.join(", ", methodNames())));
  }

  /** The method of a concept file, from its metadata. */
  public static String methodOf(Path file) throws IOException {
    Map<String, String> meta;
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      meta = f.metadata();
    }
    String method = meta.get(METHOD_KEY);
    if (method == null && ConceptFile.FORMAT.equals(meta.get("format"))) {
      return PERFUSION;
    }
    if (method == null) {
      throw new ModelLoadException(
          file + " names no personalization method (no '" + METHOD_KEY + "' in its metadata)");
    }
    if (!methodNames().contains(method)) {
      throw new ModelLoadException(
          file + ": unknown method '" + method + "'; known: " + String.join(", ", methodNames()));
    }
    return method;
  }

  /** A concept spec: the file and, for Perfusion, up to two numbers after it (beta, tau). */
  public record Spec(Path file, Float a, Float b) {
    public static Spec parse(String spec) {
      String[] parts = spec.split(":");
      if (parts.length > 3) {
        throw new IllegalArgumentException(
            "--concept '" + spec + "': expected FILE or, for Perfusion, FILE[:beta[:tau]]");
      }
      try {
        return new Spec(
            Path.of(parts[0]),
            parts.length > 1 ? Float.valueOf(parts[1]) : null,
            parts.length > 2 ? Float.valueOf(parts[2]) : null);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--concept '" + spec + "': the numbers after the file must be numbers");
      }
    }
  }

  /**
   * The concepts of a request, read and checked: Perfusion concepts (any number, each with its beta
   * and tau), or one baseline concept (LoRA at {@code scale}, null: 1), or none.
   */
  public record Concepts(
      List<ConceptUse> perfusion, BaselineConcept baseline, boolean globalLock, Float scale) {
    public Concepts {
      perfusion = List.copyOf(perfusion);
    }

    /** The request's conditioning on {@code sd}: {@link Conditioner#PLAIN} for no concept. */
    public Conditioner conditioner(StableDiffusionPipeline sd) {
      return baseline != null
          ? Personalization.conditioner(baseline, scale)
          : PerfusionModel.of(sd).conditioner(perfusion, globalLock);
    }
  }

  /**
   * Reads the concept files of a request and checks that they go together, before any model is
   * loaded.
   *
   * @throws IllegalArgumentException for methods mixed, several baseline concepts, numbers after a
   *     baseline file, a scale without a LoRA concept, or global locking without Perfusion
   * @throws IOException for a file that cannot be read or names an unknown method
   */
  public static Concepts read(List<Spec> specs, boolean globalLock, Float scale)
      throws IOException {
    List<ConceptUse> perfusion = new ArrayList<>();
    List<Spec> others = new ArrayList<>();
    for (Spec s : specs) {
      if (methodOf(s.file()).equals(PERFUSION)) {
        perfusion.add(new ConceptUse(ConceptFile.read(s.file()), s.a(), s.b()));
      } else {
        others.add(s);
      }
    }
    if (others.isEmpty()) {
      if (scale != null) {
        throw new IllegalArgumentException("--scale is LoRA's; give a LoRA concept with --concept");
      }
      return new Concepts(perfusion, null, globalLock, null);
    }
    Spec s = others.get(0);
    if (!perfusion.isEmpty() || others.size() > 1) {
      throw new IllegalArgumentException(
          "--concept: a baseline concept ("
              + s.file()
              + ") cannot be combined with other concepts");
    }
    if (globalLock) {
      throw new IllegalArgumentException(
          "--global-lock is Perfusion's; " + s.file() + " is not a Perfusion concept");
    }
    if (s.a() != null) {
      throw new IllegalArgumentException(
          "--concept "
              + s.file()
              + ": numbers after the file are Perfusion's beta and tau; a LoRA concept's strength"
              + " is --scale");
    }
    BaselineConcept c = BaselineConceptFile.read(s.file());
    conditioner(c, scale); // checks the scale against the method
    return new Concepts(List.of(), c, false, scale);
  }

  /** {@link #read} then {@link Concepts#conditioner}. */
  public static Conditioner conditioner(
      StableDiffusionPipeline sd, List<Spec> specs, boolean globalLock, Float scale)
      throws IOException {
    return read(specs, globalLock, scale).conditioner(sd);
  }

  /** Whether a method's concepts take {@code --scale} (LoRA's). */
  public static boolean takesScale(String method) {
    return Lora.NAME.equals(method);
  }

  /**
   * A baseline concept in a request; {@code scale} (LoRA only) multiplies its low-rank terms, null:
   * 1.
   */
  public static Conditioner conditioner(BaselineConcept c, Float scale) {
    if (scale != null && !c.method().equals(Lora.NAME)) {
      throw new IllegalArgumentException(
          "--scale is LoRA's; " + c.placeholder() + " is a " + c.method() + " concept");
    }
    return new BaselineConditioner(c, scale == null ? 1f : scale);
  }

  /** The placeholder word of any concept file. */
  public static String placeholderOf(Path file) throws IOException {
    return methodOf(file).equals(PERFUSION)
        ? ConceptFile.read(file).placeholder()
        : BaselineConceptFile.read(file).placeholder();
  }
}
