package org.perfusionjobs.engine.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTextConfig;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.SafetensorsWriter;
import org.perfusionjobs.engine.nn.Parameter;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;
import org.perfusionjobs.engine.scheduler.NoiseSchedule;
import org.perfusionjobs.engine.unet.UNet2DConditionConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionModel;

/**
 * Trains a CLIP text encoder and a UNet jointly on latents with the standard epsilon loss: x_t =
 * sqrt(acp[t]) x0 + sqrt(1 - acp[t]) eps with t uniform in [0, N), loss = mean((unet(x_t, t,
 * text(caption)) - eps)^2), optionally weighted per timestep ({@link #timestepWeight}). With {@link
 * Options#freezeTextEncoder()} only the UNet is optimised (SD after pre-training); the text encoder
 * then runs outside the GradientCollector and its weights are never touched.
 *
 * <p>Same patterns as {@link VaeTrainer} (docs/decisions.md items 6 and 7): each step in an {@link
 * NDScope}, {@link AdamW} over the {@code Parameter}s, a new {@link Conditioning} per step (its
 * cached K/V depend on the text encoder being trained), and a clear error on a non-finite loss.
 * Captions are replaced by "" with probability {@link Options#captionDropout()} (for
 * classifier-free guidance). Runs on the calling thread; {@link #close()} frees the moments.
 */
public final class DiffusionTrainer implements AutoCloseable {

  /** Training settings. */
  public record Options(
      float learningRate,
      float weightDecay,
      float captionDropout,
      boolean freezeTextEncoder,
      float highNoiseWeightCap,
      float textLearningRateScale) {
    public Options {
      if (!(learningRate > 0)
          || !(weightDecay >= 0)
          || !(captionDropout >= 0 && captionDropout <= 1)
          || !(highNoiseWeightCap >= 1)
          || !(textLearningRateScale > 0 && textLearningRateScale <= 1)) {
        throw new IllegalArgumentException(
            "invalid diffusion training options: lr "
                + learningRate
                + ", weight decay "
                + weightDecay
                + ", caption dropout "
                + captionDropout
                + ", high-noise weight cap "
                + highNoiseWeightCap
                + " (>= 1), text lr scale "
                + textLearningRateScale
                + " (in (0, 1])");
      }
    }

    /**
     * lr 1e-4, weight decay 1e-2, caption dropout 0.1, text encoder trained at the same rate,
     * unweighted epsilon loss.
     */
    public static Options defaults() {
      return new Options(1e-4f, 1e-2f, 0.1f, false, 1f, 1f);
    }

    public Options withLearningRate(float lr) {
      return new Options(
          lr,
          weightDecay,
          captionDropout,
          freezeTextEncoder,
          highNoiseWeightCap,
          textLearningRateScale);
    }

    public Options withCaptionDropout(float p) {
      return new Options(
          learningRate,
          weightDecay,
          p,
          freezeTextEncoder,
          highNoiseWeightCap,
          textLearningRateScale);
    }

    public Options withFrozenTextEncoder(boolean frozen) {
      return new Options(
          learningRate,
          weightDecay,
          captionDropout,
          frozen,
          highNoiseWeightCap,
          textLearningRateScale);
    }

    /** See {@link DiffusionTrainer#timestepWeight}; 1 is the plain epsilon MSE. */
    public Options withHighNoiseWeightCap(float cap) {
      return new Options(
          learningRate, weightDecay, captionDropout, freezeTextEncoder, cap, textLearningRateScale);
    }

    /**
     * The text encoder's learning rate as a share of the UNet's: a pre-trained encoder trained at
     * the UNet's rate from a random UNet's gradients loses what it knew (docs/decisions.md 20).
     */
    public Options withTextLearningRateScale(float scale) {
      return new Options(
          learningRate, weightDecay, captionDropout, freezeTextEncoder, highNoiseWeightCap, scale);
    }
  }

  /**
   * The weight of timestep {@code t}'s epsilon error: min(1 + 1 / SNR(t), cap), SNR = acp / (1 -
   * acp). The epsilon MSE equals SNR times the error of the implied x0 estimate, so at high noise
   * (SNR 0.014 at t = 900 on SD's schedule) a wrong layout, shape or position costs almost nothing
   * and the text is learnt last; 1 + 1/SNR makes it (SNR + 1) times the x0 error, the weighting of
   * v-prediction, while the model still predicts epsilon. The cap keeps the near-pure-noise end
   * from dominating. cap 1 gives weight 1 everywhere.
   */
  public static float timestepWeight(NoiseSchedule schedule, int t, float cap) {
    if (cap <= 1) {
      return 1f;
    }
    double acp = schedule.alphaCumprod(t);
    return (float) Math.min(1 + (1 - acp) / acp, cap);
  }

  /**
   * The plain epsilon MSE of one step (whatever the weighting), the loss optimised, how many
   * captions were dropped to "", and where the step's time went.
   */
  public record StepLoss(float loss, float weightedLoss, int droppedCaptions, StepTimes times) {}

  /**
   * Wall-clock nanoseconds of one step's phases: inputs (caption dropout, noise, noisy latents,
   * token ids, a frozen encoder's output), forward (text encoder, UNet, loss), backward, optimiser.
   */
  public record StepTimes(
      long inputsNanos, long forwardNanos, long backwardNanos, long optimizerNanos) {}

  private final ClipTextModel textEncoder;
  private final ClipTokenizer tokenizer;
  private final UNet2DConditionModel unet;
  private final NoiseSchedule schedule;
  private final Options options;
  private final AdamW optimizer;
  private int step;

  public DiffusionTrainer(
      ClipTextModel textEncoder,
      ClipTokenizer tokenizer,
      UNet2DConditionModel unet,
      NoiseSchedule schedule,
      Options options) {
    if (textEncoder.config().hiddenSize() != unet.config().crossAttentionDim()) {
      throw new IllegalArgumentException(
          "text encoder width "
              + textEncoder.config().hiddenSize()
              + " differs from the UNet's cross_attention_dim "
              + unet.config().crossAttentionDim());
    }
    this.textEncoder = textEncoder;
    this.tokenizer = tokenizer;
    this.unet = unet;
    this.schedule = schedule;
    this.options = options;
    List<Parameter> params = new ArrayList<>();
    if (!options.freezeTextEncoder()) {
      params.addAll(textEncoder.namedParameters().values());
    }
    int textParams = params.size();
    params.addAll(unet.namedParameters().values());
    float[] rateScale = new float[params.size()];
    Arrays.fill(rateScale, 0, textParams, options.textLearningRateScale());
    Arrays.fill(rateScale, textParams, rateScale.length, 1f);
    this.optimizer = new AdamW(params, rateScale, options.learningRate(), options.weightDecay());
  }

  public ClipTextModel textEncoder() {
    return textEncoder;
  }

  public UNet2DConditionModel unet() {
    return unet;
  }

  public AdamW optimizer() {
    return optimizer;
  }

  public Options options() {
    return options;
  }

  /** Steps done so far by this trainer. */
  public int steps() {
    return step;
  }

  /**
   * One optimiser step. Arrays created during the step are freed at its end.
   *
   * @param latents (B, 4, h, w) VAE latents, already multiplied by the scaling factor
   * @param captions B captions
   * @param seed seeds the noise ({@link NoiseGenerator}), the timesteps and the caption dropout
   */
  public StepLoss step(NDArray latents, List<String> captions, long seed) {
    return step(latents, captions, seed, null);
  }

  /**
   * As {@link #step(NDArray, List, long)} with per-latent-pixel weights (B, 1, h, w) or null: each
   * sample's squared error becomes mean(w * err^2) / mean(w) (so the weights move the loss onto,
   * e.g., the objects without changing its scale), then the timestep weight applies as before.
   */
  public StepLoss step(NDArray latents, List<String> captions, long seed, NDArray pixelWeights) {
    long t0 = System.nanoTime();
    Shape shape = latents.getShape();
    int b = (int) shape.get(0);
    if (captions.size() != b) {
      throw new IllegalArgumentException(
          "latents batch " + b + " differs from the " + captions.size() + " captions");
    }
    Losses.requirePixelWeights(pixelWeights, shape, "pixel weights");
    SplittableRandom rnd = new SplittableRandom(seed ^ 0x5DEECE66DL);
    List<String> texts = new ArrayList<>(b);
    int dropped = 0;
    for (String c : captions) {
      if (options.captionDropout() > 0 && rnd.nextDouble() < options.captionDropout()) {
        texts.add("");
        dropped++;
      } else {
        texts.add(c);
      }
    }
    long[] timesteps = new long[b];
    float[] weights = new float[b];
    for (int i = 0; i < b; i++) {
      timesteps[i] = rnd.nextInt(schedule.numTrainTimesteps());
      weights[i] = timestepWeight(schedule, (int) timesteps[i], options.highNoiseWeightCap());
    }
    float loss;
    float weighted;
    long t1;
    long t2;
    long t3;
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDManager m = latents.getManager();
      NDArray noise =
          new NoiseGenerator(seed)
              .normal(shape, m)
              .toType(latents.getDataType(), false)
              .toDevice(latents.getDevice(), false);
      NDArray t = m.create(timesteps).toDevice(latents.getDevice(), false);
      NDArray noisy = schedule.addNoise(latents, noise, t);
      NDArray ids = tokenizer.encode(texts, m).toDevice(latents.getDevice(), false);
      NDArray frozenText =
          options.freezeTextEncoder() ? textEncoder.forward(ids).stopGradient() : null;
      t1 = System.nanoTime();
      // A pass run again (GradientRetry) sees the same noise, timesteps and captions.
      long[] forwardEnd = new long[1];
      float[] r =
          GradientRetry.untilFinite(
              step + 1,
              optimizer,
              () -> {
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                  NDArray text = frozenText != null ? frozenText : textEncoder.forward(ids);
                  Conditioning cond =
                      Conditioning.of(text); // new every step: K/V depend on the trained encoder
                  NDArray pred = unet.forward(noisy, t, cond);
                  NDArray sq = pred.sub(noise).square();
                  NDArray perSample = sq.reshape(b, -1).mean(new int[] {1}); // (B)
                  NDArray located =
                      pixelWeights == null
                          ? perSample
                          : sq.mul(pixelWeights)
                              .reshape(b, -1)
                              .mean(new int[] {1})
                              .div(pixelWeights.reshape(b, -1).mean(new int[] {1})); // (B)
                  NDArray objective =
                      located
                          .mul(
                              m.create(weights)
                                  .toType(perSample.getDataType(), false)
                                  .toDevice(perSample.getDevice(), false))
                          .mean();
                  float passLoss = perSample.mean().getFloat();
                  float passWeighted = objective.getFloat();
                  forwardEnd[0] = System.nanoTime();
                  GradientRetry.requireFiniteLoss("diffusion training", step + 1, passWeighted);
                  gc.backward(objective);
                  return new float[] {passLoss, passWeighted};
                }
              });
      loss = r[0];
      weighted = r[1];
      t2 = forwardEnd[0];
      t3 = System.nanoTime();
      optimizer.step();
    }
    step++;
    return new StepLoss(
        loss, weighted, dropped, new StepTimes(t1 - t0, t2 - t1, t3 - t2, System.nanoTime() - t3));
  }

  /**
   * Writes {@code text_encoder/} (transformers config + model.safetensors) and {@code unet/}
   * (diffusers config + diffusion_pytorch_model.safetensors) under {@code modelDir}, readable by
   * {@link ClipTextModel#load} and {@link UNet2DConditionModel#load}.
   */
  public void save(Path modelDir) throws IOException {
    saveTextEncoder(textEncoder, tokenizer, modelDir.resolve("text_encoder"));
    saveUNet(unet, modelDir.resolve("unet"));
  }

  /**
   * A transformers CLIPTextModel folder; the special token ids come from {@code tokenizer} (may be
   * null).
   */
  public static void saveTextEncoder(ClipTextModel model, ClipTokenizer tokenizer, Path dir)
      throws IOException {
    Files.createDirectories(dir);
    ClipTextConfig c = model.config();
    ObjectNode json = Configs.json().createObjectNode();
    json.putArray("architectures").add("CLIPTextModel");
    json.put("model_type", "clip_text_model");
    json.put("vocab_size", c.vocabSize());
    json.put("hidden_size", c.hiddenSize());
    json.put("intermediate_size", c.intermediateSize());
    json.put("num_hidden_layers", c.numHiddenLayers());
    json.put("num_attention_heads", c.numAttentionHeads());
    json.put("max_position_embeddings", c.maxPositionEmbeddings());
    json.put("hidden_act", c.hiddenAct());
    json.put("layer_norm_eps", c.layerNormEps());
    json.put("attention_dropout", 0.0);
    if (tokenizer != null) {
      json.put("bos_token_id", tokenizer.bosId());
      json.put("eos_token_id", tokenizer.eosId());
      json.put("pad_token_id", tokenizer.padId());
    }
    json.put("torch_dtype", "float32");
    writeConfig(dir, json);
    SafetensorsWriter.writeModule(dir.resolve("model.safetensors"), model, Map.of("format", "pt"));
  }

  /**
   * A diffusers UNet2DConditionModel folder (head counts written as SD does, as
   * attention_head_dim).
   */
  public static void saveUNet(UNet2DConditionModel model, Path dir) throws IOException {
    Map<String, NDArray> weights = new LinkedHashMap<>();
    model.namedParameters().forEach((k, p) -> weights.put(k, p.get()));
    saveUNet(model, weights, dir);
  }

  /**
   * As {@link #saveUNet(UNet2DConditionModel, Path)} with other values for the model's weights
   * (e.g. a {@link WeightAverage}'s), keyed as its parameters; every key must be there with its
   * shape.
   */
  public static void saveUNet(UNet2DConditionModel model, Map<String, NDArray> weights, Path dir)
      throws IOException {
    Map<String, Parameter> params = model.namedParameters();
    if (!weights.keySet().equals(params.keySet())) {
      throw new IllegalArgumentException(
          "weights to save ("
              + weights.size()
              + " keys) do not match the UNet's "
              + params.size()
              + " parameters");
    }
    params.forEach(
        (k, p) -> {
          if (!weights.get(k).getShape().equals(p.shape())) {
            throw new IllegalArgumentException(
                "weight '"
                    + k
                    + "' has shape "
                    + weights.get(k).getShape()
                    + ", the UNet expects "
                    + p.shape());
          }
        });
    Files.createDirectories(dir);
    UNet2DConditionConfig c = model.config();
    ObjectNode json = Configs.json().createObjectNode();
    json.put("_class_name", "UNet2DConditionModel");
    json.put("sample_size", c.sampleSize());
    json.put("in_channels", c.inChannels());
    json.put("out_channels", c.outChannels());
    ArrayNode ch = json.putArray("block_out_channels");
    c.blockOutChannels().forEach(ch::add);
    json.put("layers_per_block", c.layersPerBlock());
    ArrayNode down = json.putArray("down_block_types");
    c.downBlockTypes().forEach(down::add);
    ArrayNode up = json.putArray("up_block_types");
    c.upBlockTypes().forEach(up::add);
    json.put("mid_block_type", c.midBlockType());
    json.put("cross_attention_dim", c.crossAttentionDim());
    ArrayNode heads = json.putArray("attention_head_dim");
    c.headCounts().forEach(heads::add);
    json.put("norm_num_groups", c.normNumGroups());
    json.put("norm_eps", c.normEps());
    json.put("flip_sin_to_cos", c.flipSinToCos());
    json.put("freq_shift", c.freqShift());
    json.put("downsample_padding", c.downsamplePadding());
    json.put("act_fn", c.actFn());
    json.put("use_linear_projection", c.useLinearProjection());
    json.put("transformer_layers_per_block", c.transformerLayersPerBlock());
    writeConfig(dir, json);
    SafetensorsWriter.write(
        dir.resolve("diffusion_pytorch_model.safetensors"), weights, Map.of("format", "pt"));
  }

  private static void writeConfig(Path dir, ObjectNode json) throws IOException {
    Path tmp = Files.createTempFile(dir, "config.json", ".part");
    Files.writeString(
        tmp, Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(json));
    Files.move(
        tmp,
        dir.resolve("config.json"),
        StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
  }

  @Override
  public void close() {
    optimizer.close();
  }
}
