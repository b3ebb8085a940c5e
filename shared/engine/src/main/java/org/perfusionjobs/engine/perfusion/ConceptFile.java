package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.perfusionjobs.engine.io.ModelLoadException;
import org.perfusionjobs.engine.io.SafetensorsBytes;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.SafetensorsWriter;

/**
 * Reads and writes concept files: safetensors with {@code i_star}, {@code embedding}, {@code
 * target_k.<layer path>} and {@code target_v.<layer path>} in fp32, and the rest in the string
 * metadata ({@code method} is {@code perfusion}, for readers of any method's file). Cinv is never
 * inside (it is shared per base model, identified by its hash).
 */
public final class ConceptFile {
  public static final String FORMAT = "perfusion-concept/1";

  private ConceptFile() {}

  public static void write(Concept c, Path file) throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> t = new LinkedHashMap<>();
      t.put("i_star", m.create(c.iStar()));
      t.put("embedding", m.create(c.embedding()));
      c.keyTargets().forEach((path, v) -> t.put("target_k." + path, m.create(v)));
      c.valueTargets().forEach((path, v) -> t.put("target_v." + path, m.create(v)));
      Map<String, String> meta = new LinkedHashMap<>();
      meta.put("format", FORMAT);
      meta.put("method", "perfusion");
      meta.put("placeholder", c.placeholder());
      meta.put("superclass", c.superclass());
      meta.put("base_model", c.baseModelId());
      meta.put("cinv_sha256", c.cinvHash());
      meta.put("default_beta", Float.toString(c.defaultBeta()));
      meta.put("default_tau", Float.toString(c.defaultTau()));
      c.trainingSettings().forEach((k, v) -> meta.put("train." + k, v));
      SafetensorsWriter.write(file, t, meta);
    }
  }

  public static byte[] toBytes(Concept c) throws IOException {
    return SafetensorsBytes.write(tmp -> write(c, tmp));
  }

  public static Concept fromBytes(byte[] bytes) throws IOException {
    return SafetensorsBytes.read(bytes, ConceptFile::read);
  }

  public static Concept read(Path file) throws IOException {
    try (SafetensorsFile f = SafetensorsFile.open(file);
        NDManager m = NDManager.newBaseManager()) {
      Map<String, String> meta = f.metadata();
      if (!FORMAT.equals(meta.get("format"))) {
        throw new ModelLoadException(
            file
                + " is not a Perfusion concept file (format '"
                + meta.get("format")
                + "', expected '"
                + FORMAT
                + "')");
      }
      Map<String, float[]> k = new LinkedHashMap<>();
      Map<String, float[]> v = new LinkedHashMap<>();
      float[] iStar = null;
      float[] emb = null;
      for (String name : f.tensors().keySet()) {
        float[] data = f.read(name, m, DataType.FLOAT32).toFloatArray();
        if (name.equals("i_star")) {
          iStar = data;
        } else if (name.equals("embedding")) {
          emb = data;
        } else if (name.startsWith("target_k.")) {
          k.put(name.substring("target_k.".length()), data);
        } else if (name.startsWith("target_v.")) {
          v.put(name.substring("target_v.".length()), data);
        } else {
          throw new ModelLoadException(
              file + ": unexpected tensor '" + name + "' in a concept file");
        }
      }
      if (iStar == null || emb == null) {
        throw new ModelLoadException(
            file + ": concept file lacks " + (iStar == null ? "i_star" : "embedding"));
      }
      Map<String, String> settings = new LinkedHashMap<>();
      meta.forEach(
          (key, val) -> {
            if (key.startsWith("train.")) {
              settings.put(key.substring(6), val);
            }
          });
      try {
        return new Concept(
            required(meta, "placeholder", file),
            required(meta, "superclass", file),
            required(meta, "base_model", file),
            required(meta, "cinv_sha256", file),
            Float.parseFloat(required(meta, "default_beta", file)),
            Float.parseFloat(required(meta, "default_tau", file)),
            iStar,
            emb,
            k,
            v,
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
