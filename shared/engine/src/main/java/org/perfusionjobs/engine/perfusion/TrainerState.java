package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.perfusionjobs.engine.io.ModelLoadException;
import org.perfusionjobs.engine.io.SafetensorsBytes;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.SafetensorsWriter;

/**
 * Everything a training run needs to continue where it stopped, on this worker or another: the
 * completed step count, the learned values, the locked targets, the i* running average and the
 * AdamW moments (of the K targets too, where a softly locked key or the no-key-lock ablation learns
 * them; empty maps where K is locked). Randomness is derived from (seed, step), so a resumed run
 * draws what the uninterrupted one would have. Serialised as safetensors (a few hundred KB for SD
 * v1.5).
 */
public record TrainerState(
    String placeholder,
    String superclass,
    long seed,
    int completedSteps,
    float[] iStar, // (D)
    float[] iSuper, // (D)
    float[] embedding, // (D)
    float[] embeddingM, // (D)
    float[] embeddingV, // (D)
    Map<String, float[]> keyTargets, // path -> (C)
    Map<String, float[]> valueTargets, // path -> (C)
    Map<String, float[]> valueM, // path -> (C)
    Map<String, float[]> valueV, // path -> (C)
    Map<String, float[]> keyM, // path -> (C), empty when K is locked
    Map<String, float[]> keyV, // path -> (C), empty when K is locked
    double lastLoss) {

  public byte[] toBytes() throws IOException {
    return SafetensorsBytes.write(this::write);
  }

  private void write(Path file) throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> t = new LinkedHashMap<>();
      t.put("i_star", m.create(iStar));
      t.put("i_super", m.create(iSuper));
      t.put("embedding", m.create(embedding));
      t.put("adam_m.embedding", m.create(embeddingM));
      t.put("adam_v.embedding", m.create(embeddingV));
      keyTargets.forEach((p, v) -> t.put("target_k." + p, m.create(v)));
      valueTargets.forEach((p, v) -> t.put("target_v." + p, m.create(v)));
      valueM.forEach((p, v) -> t.put("adam_m.target_v." + p, m.create(v)));
      valueV.forEach((p, v) -> t.put("adam_v.target_v." + p, m.create(v)));
      keyM.forEach((p, v) -> t.put("adam_m.target_k." + p, m.create(v)));
      keyV.forEach((p, v) -> t.put("adam_v.target_k." + p, m.create(v)));
      Map<String, String> meta = new LinkedHashMap<>();
      meta.put("format", "perfusion-trainer-state/1");
      meta.put("placeholder", placeholder);
      meta.put("superclass", superclass);
      meta.put("seed", Long.toString(seed));
      meta.put("completed_steps", Integer.toString(completedSteps));
      meta.put("last_loss", Double.toString(lastLoss));
      SafetensorsWriter.write(file, t, meta);
    }
  }

  public static TrainerState fromBytes(byte[] bytes) throws IOException {
    return SafetensorsBytes.read(bytes, TrainerState::read);
  }

  private static TrainerState read(Path file) throws IOException {
    try (SafetensorsFile f = SafetensorsFile.open(file);
        NDManager m = NDManager.newBaseManager()) {
      Map<String, String> meta = f.metadata();
      if (!"perfusion-trainer-state/1".equals(meta.get("format"))) {
        throw new ModelLoadException(
            "not a Perfusion trainer state (format '" + meta.get("format") + "')");
      }
      Map<String, float[]> all = new LinkedHashMap<>();
      for (String name : f.tensors().keySet()) {
        all.put(name, f.read(name, m).toFloatArray());
      }
      return new TrainerState(
          meta.get("placeholder"),
          meta.get("superclass"),
          Long.parseLong(meta.get("seed")),
          Integer.parseInt(meta.get("completed_steps")),
          all.get("i_star"),
          all.get("i_super"),
          all.get("embedding"),
          all.get("adam_m.embedding"),
          all.get("adam_v.embedding"),
          prefixed(all, "target_k."),
          prefixed(all, "target_v."),
          prefixed(all, "adam_m.target_v."),
          prefixed(all, "adam_v.target_v."),
          prefixed(all, "adam_m.target_k."),
          prefixed(all, "adam_v.target_k."),
          Double.parseDouble(meta.get("last_loss")));
    }
  }

  private static Map<String, float[]> prefixed(Map<String, float[]> all, String prefix) {
    Map<String, float[]> out = new LinkedHashMap<>();
    all.forEach(
        (k, v) -> {
          if (k.startsWith(prefix)) {
            out.put(k.substring(prefix.length()), v);
          }
        });
    return out;
  }
}
