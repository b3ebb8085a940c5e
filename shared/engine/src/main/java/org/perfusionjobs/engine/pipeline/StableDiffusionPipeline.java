package org.perfusionjobs.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.io.ModelLoadException;
import org.perfusionjobs.engine.scheduler.SchedulerConfig;
import org.perfusionjobs.engine.unet.UNet2DConditionModel;
import org.perfusionjobs.engine.vae.AutoencoderKL;

/**
 * Text-to-image with a Stable Diffusion v1.x checkpoint: load once, then {@link #generate} many
 * times. Not thread-safe: one model thread owns a pipeline (and its device).
 *
 * <p>Memory: the weights live in the pipeline's manager; each request runs in a sub-manager and
 * each denoising step in an {@link NDScope}, so only the current latents survive a step.
 */
public final class StableDiffusionPipeline implements AutoCloseable {
  private final NDManager manager;
  private final EngineOptions options;
  private final ModelFolder folder;
  private final ClipTokenizer tokenizer;
  private final ClipTextModel textEncoder;
  private final UNet2DConditionModel unet;
  private final AutoencoderKL vae;
  private final SchedulerConfig schedulerConfig;
  private final Map<Class<?>, Object> extensions = new LinkedHashMap<>();

  private StableDiffusionPipeline(
      NDManager manager,
      EngineOptions options,
      ModelFolder folder,
      ClipTokenizer tokenizer,
      ClipTextModel textEncoder,
      UNet2DConditionModel unet,
      AutoencoderKL vae,
      SchedulerConfig schedulerConfig) {
    this.manager = manager;
    this.options = options;
    this.folder = folder;
    this.tokenizer = tokenizer;
    this.textEncoder = textEncoder;
    this.unet = unet;
    this.vae = vae;
    this.schedulerConfig = schedulerConfig;
  }

  /** Loads every component of a diffusers folder; fails with a message naming what is wrong. */
  public static StableDiffusionPipeline load(Path root, EngineOptions options) throws IOException {
    ModelFolder folder = ModelFolder.open(root);
    NDManager manager = NDManager.newBaseManager(options.device());
    try {
      ClipTokenizer tokenizer = ClipTokenizer.load(folder.tokenizer());
      SchedulerConfig scheduler = Configs.read(folder.schedulerConfig(), SchedulerConfig.class);
      ClipTextModel text =
          ClipTextModel.load(folder.textEncoder(), manager, options.dtype(), options.device());
      UNet2DConditionModel unet =
          UNet2DConditionModel.load(folder.unet(), manager, options.dtype(), options.device());
      AutoencoderKL vae =
          AutoencoderKL.load(folder.vae(), manager, options.dtype(), options.device());
      checkCompatible(folder, tokenizer, text, unet, vae);
      options.attentionSlicing().applyTo(unet);
      options.attentionSlicing().applyTo(vae);
      return new StableDiffusionPipeline(
          manager, options, folder, tokenizer, text, unet, vae, scheduler);
    } catch (IOException | RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  private static void checkCompatible(
      ModelFolder f,
      ClipTokenizer tok,
      ClipTextModel text,
      UNet2DConditionModel unet,
      AutoencoderKL vae)
      throws ModelLoadException {
    if (tok.vocabSize() > text.config().vocabSize()) {
      throw new ModelLoadException(
          f.root()
              + ": tokenizer has "
              + tok.vocabSize()
              + " tokens but text_encoder vocab_size is "
              + text.config().vocabSize());
    }
    if (text.config().hiddenSize() != unet.config().crossAttentionDim()) {
      throw new ModelLoadException(
          f.root()
              + ": text_encoder hidden_size "
              + text.config().hiddenSize()
              + " differs from unet cross_attention_dim "
              + unet.config().crossAttentionDim());
    }
    if (vae.config().latentChannels() != unet.config().inChannels()) {
      throw new ModelLoadException(
          f.root()
              + ": vae latent_channels "
              + vae.config().latentChannels()
              + " differs from unet in_channels "
              + unet.config().inChannels());
    }
  }

  public ClipTokenizer tokenizer() {
    return tokenizer;
  }

  public ClipTextModel textEncoder() {
    return textEncoder;
  }

  public UNet2DConditionModel unet() {
    return unet;
  }

  public AutoencoderKL vae() {
    return vae;
  }

  public SchedulerConfig schedulerConfig() {
    return schedulerConfig;
  }

  public EngineOptions options() {
    return options;
  }

  public ModelFolder folder() {
    return folder;
  }

  public NDManager manager() {
    return manager;
  }

  /** The image size the checkpoint was made for: UNet sample size times the VAE factor. */
  public int defaultImageSize() {
    return unet.config().sampleSize() * vae.config().spatialFactor();
  }

  /** Latent shape for a request: (batch, latent channels, height / f, width / f). */
  public Shape latentShape(int batch, int width, int height) {
    int f = vae.config().spatialFactor();
    return new Shape(batch, unet.config().inChannels(), height / f, width / f);
  }

  /** Encodes prompts to the text encoder's last hidden state, (B, 77, D). */
  public NDArray encodePrompts(List<String> prompts, NDManager m) {
    NDArray ids = tokenizer.encode(prompts, m);
    return textEncoder.forward(ids.toDevice(options.device(), false));
  }

  /**
   * Runs one request to the end: the one-request path of {@link DenoisingBatch}. Throws {@link
   * GenerationCancelledException} when the request's cancel check fires between steps.
   */
  public GenerateResult generate(GenerateRequest r) {
    // The scope also frees what a conditioner made outside the request's manager.
    try (DenoisingBatch batch = new DenoisingBatch(this, Integer.MAX_VALUE, Duration.ZERO);
        NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      CompletableFuture<GenerateResult> result = batch.submit(r);
      batch.drain();
      return DenoisingBatch.join(result);
    }
  }

  /**
   * Per-pipeline state of a method that plugs in through a {@link Conditioner} (e.g. Perfusion's
   * covariance and tokenizers with concept words): made on first use by {@code factory}, kept as
   * long as the pipeline, closed with it when it is {@link AutoCloseable}. The pipeline never looks
   * inside.
   */
  public synchronized <T> T extension(Class<T> type, Function<StableDiffusionPipeline, T> factory) {
    Object e = extensions.get(type);
    if (e == null) {
      e = Objects.requireNonNull(factory.apply(this), "extension factory returned null");
      extensions.put(type, e);
    }
    return type.cast(e);
  }

  private String baseModelId;

  /**
   * Identifies the base model a concept belongs to: a hash of the component configs and weight file
   * sizes (cheap, and stable when the folder is copied or renamed).
   */
  public synchronized String baseModelId() {
    if (baseModelId == null) {
      try {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (Path p : List.of(folder.textEncoder(), folder.unet(), folder.vae())) {
          md.update(Files.readAllBytes(p.resolve("config.json")));
          try (var files = Files.list(p)) {
            for (Path w :
                files.filter(f -> f.toString().endsWith(".safetensors")).sorted().toList()) {
              md.update((w.getFileName() + ":" + Files.size(w)).getBytes(StandardCharsets.UTF_8));
            }
          }
        }
        baseModelId = "sd1:" + HexFormat.of().formatHex(md.digest()).substring(0, 16);
      } catch (IOException | NoSuchAlgorithmException e) {
        throw new IllegalStateException(
            "cannot fingerprint " + folder.root() + ": " + e.getMessage(), e);
      }
    }
    return baseModelId;
  }

  /** VAE decode of latents (scaled by the checkpoint's scaling factor) to 8-bit RGB images. */
  public List<BufferedImage> decode(NDArray latents) {
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDArray decoded = vae.decode(latents.div(vae.config().scalingFactor()));
      return ImageCodec.toImages(decoded.toType(DataType.FLOAT32, false));
    }
  }

  @Override
  public void close() {
    List<Object> open;
    synchronized (this) {
      open = new ArrayList<>(extensions.values());
      extensions.clear();
    }
    try {
      for (Object e : open) {
        if (e instanceof AutoCloseable c) {
          try {
            c.close();
          } catch (Exception ex) {
            throw new IllegalStateException(
                "closing pipeline extension " + e.getClass().getName() + ": " + ex.getMessage(),
                ex);
          }
        }
      }
    } finally {
      manager.close();
    }
  }
}
