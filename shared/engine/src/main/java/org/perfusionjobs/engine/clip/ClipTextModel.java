package org.perfusionjobs.engine.clip;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.StateDictLoader;
import org.perfusionjobs.engine.io.WeightFiles;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.Embedding;
import org.perfusionjobs.engine.nn.LayerNorm;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.ModuleList;

/**
 * transformers' CLIPTextModel as Stable Diffusion uses it: token + position embeddings, pre-LN
 * causal transformer layers, final layer norm; the output is {@code last_hidden_state}. Keys start
 * with {@code text_model.} as in the checkpoint.
 *
 * <p>Words added to the tokenizer (Perfusion placeholders) have ids from {@code vocab_size} on;
 * their input embeddings come from the caller, so gradients can flow into them while every weight
 * here stays frozen. Legend: B batch, T tokens (77), D width, A added tokens.
 */
public final class ClipTextModel extends Module {
  private static final String POSITION_IDS = "text_model.embeddings.position_ids";
  private final ClipTextConfig config;
  public final TextTransformer textModel;

  public ClipTextModel(ClipTextConfig cfg) {
    this.config = cfg;
    this.textModel = child("text_model", new TextTransformer(cfg));
    visit(
        (path, m) -> {
          if (m instanceof ClipEncoderLayer l) {
            l.path = path.substring("text_model.".length());
          }
        });
  }

  /**
   * Reads config.json and model.safetensors (or model.fp16.safetensors); position_ids is accepted
   * and ignored.
   */
  public static ClipTextModel load(Path dir, NDManager manager, DataType dtype, Device device)
      throws IOException {
    ClipTextModel model =
        new ClipTextModel(Configs.read(dir.resolve("config.json"), ClipTextConfig.class));
    Path weights = WeightFiles.find(dir, "model");
    try (SafetensorsFile f = SafetensorsFile.open(weights)) {
      // Older transformers versions saved the arange(77) position_ids buffer; it carries no
      // weights.
      new StateDictLoader(k -> k, Set.of(POSITION_IDS)).load(model, f, manager, dtype, device);
    }
    return model;
  }

  public ClipTextConfig config() {
    return config;
  }

  /** ids (B, T) int64 → last_hidden_state (B, T, D). */
  public NDArray forward(NDArray ids) {
    return forward(ids, null);
  }

  /**
   * @param ids (B, T) int64; ids at or above vocab_size select rows of {@code added}
   * @param added (A, D) input embeddings of added tokens, or null
   * @return (B, T, D) after the final layer norm
   */
  public NDArray forward(NDArray ids, NDArray added) {
    NDArray x = tokenEmbeddings(ids, added);
    ActivationProbe.record("embeddings.token_embedding", x);
    TextTransformer tm = textModel;
    long t = ids.getShape().get(1);
    NDArray positions = x.getManager().arange(0, t, 1, DataType.INT64, x.getDevice());
    x = x.add(tm.embeddings.positionEmbedding.forward(positions));
    ActivationProbe.record("hidden_states.0", x);
    NDArray mask = causalMask(x.getManager(), t, x.getDataType(), x.getDevice());
    NDArray input = x;
    for (int i = 0; i < tm.encoder.layers.size(); i++) {
      NDArray next = tm.encoder.layers.get(i).forward(x, mask);
      if (x != input) {
        BlockScope.release(x); // a layer's output, dead once the next layer has run
      }
      x = next;
      ActivationProbe.record("hidden_states." + (i + 1), x);
    }
    return tm.finalLayerNorm.forward(x);
  }

  /** Input embeddings of token ids (any shape), including added tokens. */
  public NDArray tokenEmbeddings(NDArray ids) {
    return tokenEmbeddings(ids, null);
  }

  private NDArray tokenEmbeddings(NDArray ids, NDArray added) {
    Embedding tok = textModel.embeddings.tokenEmbedding;
    NDArray idx = ids.toType(DataType.INT64, false);
    if (added == null) {
      long max = idx.max().getLong();
      if (max >= config.vocabSize()) {
        throw new IllegalArgumentException(
            "token id "
                + max
                + " is outside the vocabulary ("
                + config.vocabSize()
                + ") and no added embeddings were given");
      }
      return tok.forward(idx);
    }
    // Base rows for ordinary ids, caller rows for added ids, blended by a 0/1 mask so the
    // gradient reaches `added` without copying the whole embedding table.
    long vocab = config.vocabSize();
    long extra = added.getShape().get(0);
    NDArray isAdded = idx.gte(vocab);
    NDArray baseIds = idx.clip(0, vocab - 1);
    NDArray addedIds = idx.sub(vocab).clip(0, extra - 1);
    NDArray mask = isAdded.toType(added.getDataType(), false).expandDims(-1);
    NDArray base = tok.forward(baseIds);
    NDArray mine = added.get(addedIds);
    return base.mul(mask.neg().add(1f)).add(mine.mul(mask));
  }

  private static NDArray causalMask(NDManager m, long t, DataType type, Device device) {
    // Large negative instead of -inf keeps fp16 softmax finite, as transformers does.
    float neg = type == DataType.FLOAT16 ? -65504f : -3.4028235e38f;
    float[] mask = new float[(int) (t * t)];
    for (int i = 0; i < t; i++) {
      for (int j = i + 1; j < t; j++) {
        mask[(int) (i * t + j)] = neg; // position i may not attend to a later j
      }
    }
    return m.create(mask, new Shape(t, t)).toType(type, false).toDevice(device, false);
  }

  /** {@code text_model}: embeddings, encoder, final_layer_norm. */
  public static final class TextTransformer extends Module {
    public final Embeddings embeddings;
    public final Encoder encoder;
    public final LayerNorm finalLayerNorm; // (D)

    TextTransformer(ClipTextConfig cfg) {
      this.embeddings = child("embeddings", new Embeddings(cfg));
      this.encoder = child("encoder", new Encoder(cfg));
      this.finalLayerNorm =
          child("final_layer_norm", new LayerNorm(cfg.hiddenSize(), cfg.layerNormEps()));
    }
  }

  /** token_embedding (vocab, D) and position_embedding (77, D). */
  public static final class Embeddings extends Module {
    public final Embedding tokenEmbedding;
    public final Embedding positionEmbedding;

    Embeddings(ClipTextConfig cfg) {
      this.tokenEmbedding =
          child("token_embedding", new Embedding(cfg.vocabSize(), cfg.hiddenSize()));
      this.positionEmbedding =
          child("position_embedding", new Embedding(cfg.maxPositionEmbeddings(), cfg.hiddenSize()));
    }
  }

  /** encoder.layers.N. */
  public static final class Encoder extends Module {
    public final ModuleList<ClipEncoderLayer> layers;

    Encoder(ClipTextConfig cfg) {
      this.layers = child("layers", new ModuleList<>());
      for (int i = 0; i < cfg.numHiddenLayers(); i++) {
        layers.add(new ClipEncoderLayer(cfg));
      }
    }
  }
}
