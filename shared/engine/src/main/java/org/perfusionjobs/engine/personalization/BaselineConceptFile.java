package org.perfusionjobs.engine.personalization;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.perfusionjobs.engine.io.ModelLoadException;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.SafetensorsWriter;

/**
 * Concept files of the baseline methods: safetensors with the {@link BaselineConcept}'s tensors
 * (fp32) and {@code embedding} when there is one; metadata {@code format}, {@code method}, {@code
 * placeholder}, {@code superclass}, {@code base_model} and {@code train.*}.
 */
public final class BaselineConceptFile {
  public static final String FORMAT = "personalization-concept/1";

  private BaselineConceptFile() {}

  public static void write(BaselineConcept c, Path file) throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> t = new LinkedHashMap<>();
      if (c.embedding() != null) {
        t.put("embedding", m.create(c.embedding()));
      }
      c.tensors().forEach((name, v) -> t.put(name, v.toArray(m)));
      Map<String, String> meta = new LinkedHashMap<>();
      meta.put("format", FORMAT);
      meta.put(Personalization.METHOD_KEY, c.method());
      meta.put("placeholder", c.placeholder());
      meta.put("superclass", c.superclass());
      meta.put("base_model", c.baseModelId());
      c.trainingSettings().forEach((k, v) -> meta.put("train." + k, v));
      SafetensorsWriter.write(file, t, meta);
    }
  }

  public static BaselineConcept read(Path file) throws IOException {
    try (SafetensorsFile f = SafetensorsFile.open(file);
        NDManager m = NDManager.newBaseManager()) {
      Map<String, String> meta = f.metadata();
      if (!FORMAT.equals(meta.get("format"))) {
        throw new ModelLoadException(
            file
                + " is not a baseline concept file (format '"
                + meta.get("format")
                + "', expected '"
                + FORMAT
                + "')");
      }
      float[] emb = null;
      Map<String, HostTensor> tensors = new LinkedHashMap<>();
      for (String name : f.tensors().keySet()) {
        NDArray a = f.read(name, m, DataType.FLOAT32);
        if (name.equals("embedding")) {
          emb = a.toFloatArray();
        } else {
          tensors.put(name, HostTensor.of(a));
        }
      }
      Map<String, String> settings = new LinkedHashMap<>();
      meta.forEach(
          (k, v) -> {
            if (k.startsWith("train.")) {
              settings.put(k.substring(6), v);
            }
          });
      try {
        return new BaselineConcept(
            required(meta, Personalization.METHOD_KEY, file),
            required(meta, "placeholder", file),
            required(meta, "superclass", file),
            required(meta, "base_model", file),
            emb,
            tensors,
            settings);
      } catch (IllegalArgumentException e) {
        throw new ModelLoadException(file + ": " + e.getMessage(), e);
      }
    }
  }

  private static String required(Map<String, String> meta, String key, Path file)
      throws ModelLoadException {
    String v = meta.get(key);
    if (v == null) {
      throw new ModelLoadException(file + ": concept metadata lacks '" + key + "'");
    }
    return v;
  }
}
