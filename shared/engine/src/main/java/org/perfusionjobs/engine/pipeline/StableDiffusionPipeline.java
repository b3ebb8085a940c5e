package org.perfusionjobs.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.io.ModelLoadException;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.ConceptCompatibility;
import org.perfusionjobs.engine.perfusion.ConceptEdit;
import org.perfusionjobs.engine.perfusion.ConceptEdits;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.Covariance;
import org.perfusionjobs.engine.perfusion.PerfusionProcessor;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;
import org.perfusionjobs.engine.scheduler.SamplerRun;
import org.perfusionjobs.engine.scheduler.Samplers;
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

  private StableDiffusionPipeline(NDManager manager, EngineOptions options, ModelFolder folder, ClipTokenizer tokenizer, ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae, SchedulerConfig schedulerConfig) {
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
      ClipTextModel text = ClipTextModel.load(folder.textEncoder(), manager, options.dtype(), options.device());
      UNet2DConditionModel unet = UNet2DConditionModel.load(folder.unet(), manager, options.dtype(), options.device());
      AutoencoderKL vae = AutoencoderKL.load(folder.vae(), manager, options.dtype(), options.device());
      checkCompatible(folder, tokenizer, text, unet, vae);
      options.attentionSlicing().applyTo(unet);
      options.attentionSlicing().applyTo(vae);
      return new StableDiffusionPipeline(manager, options, folder, tokenizer, text, unet, vae, scheduler);
    } catch (IOException | RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  private static void checkCompatible(ModelFolder f, ClipTokenizer tok, ClipTextModel text, UNet2DConditionModel unet, AutoencoderKL vae) throws ModelLoadException {
    if (tok.vocabSize() > text.config().vocabSize()) {
      throw new ModelLoadException(f.root() + ": tokenizer has " + tok.vocabSize()
          + " tokens but text_encoder vocab_size is " + text.config().vocabSize());
    }
    if (text.config().hiddenSize() != unet.config().crossAttentionDim()) {
      throw new ModelLoadException(f.root() + ": text_encoder hidden_size " + text.config().hiddenSize()
          + " differs from unet cross_attention_dim " + unet.config().crossAttentionDim());
    }
    if (vae.config().latentChannels() != unet.config().inChannels()) {
      throw new ModelLoadException(f.root() + ": vae latent_channels " + vae.config().latentChannels()
          + " differs from unet in_channels " + unet.config().inChannels());
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

  public GenerateResult generate(GenerateRequest r) {
    int width = r.width() == 0 ? defaultImageSize() : r.width();
    int height = r.height() == 0 ? defaultImageSize() : r.height();
    int f = vae.config().spatialFactor();
    if (width % f != 0 || height % f != 0) {
      throw new IllegalArgumentException("width and height must be multiples of " + f + ", got " + width + "x" + height);
    }
    int b = r.batchSize();
    Shape latentShape = latentShape(b, width, height);
    if (r.latents() != null && !r.latents().toShape().equals(latentShape)) {
      throw new IllegalArgumentException("latents have shape " + r.latents().toShape() + " but this request needs "
          + latentShape + " (batch, channels, height/" + f + ", width/" + f + ")");
    }
    try (NDManager rm = manager.newSubManager(); NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      long t0 = System.nanoTime();
      Conditioning cond = conditioning(r, b, rm);
      // K/V of every cross-attention layer depend only on the text: project them once, here.
      for (Attention a : unet.crossAttentions()) {
        cond.keyValue(a);
      }
      long t1 = System.nanoTime();

      NoiseGenerator noise = new NoiseGenerator(r.seed());
      SamplerRun run = Samplers.create(r.sampler(), schedulerConfig, r.steps(), r.eta());
      rm.attachInternal("sampler-run", run);
      // Latents stay fp32 whatever the model's precision; only the UNet input is cast.
      NDArray latents = r.latents() != null ? r.latents().toArray(rm) : noise.normal(latentShape, rm);
      latents = latents.toDevice(options.device(), false).mul(run.initNoiseSigma());
      long[] timesteps = run.timesteps();
      for (int i = 0; i < timesteps.length; i++) {
        if (r.cancelled().getAsBoolean()) {
          throw new GenerationCancelledException(i);
        }
        try (NDScope step = new NDScope()) {
          step.suppressNotUsedWarning();
          NDArray next = denoise(run, i, latents, cond, r, noise, rm);
          NDScope.unregister(next);
          latents = next;
          NDArray current = latents;
          int done = i + 1;
          r.onStep().accept(new StepProgress(done, timesteps.length, timesteps[i],
              Duration.ofNanos(System.nanoTime() - t1), () -> decode(current)));
        }
      }
      long t2 = System.nanoTime();
      List<BufferedImage> images = decode(latents);
      long t3 = System.nanoTime();
      return new GenerateResult(images, r.seed(), width, height, Duration.ofNanos(t1 - t0), Duration.ofNanos(t2 - t1), Duration.ofNanos(t3 - t2));
    }
  }

  private Conditioning conditioning(GenerateRequest r, int b, NDManager rm) {
    if (r.concepts().isEmpty()) {
      return Conditioning.of(encodePrompts(rows(r.prompt(), r, b), rm));
    }
    // Concept words become single added tokens whose input embeddings are the learned ones.
    List<Concept> concepts = r.concepts().stream().map(ConceptUse::concept).toList();
    Covariance cov = covariance();
    for (Concept c : concepts) {
      ConceptCompatibility.check(c, baseModelId(), cov, textEncoder.config().hiddenSize(), unet.crossAttentions());
    }
    ClipTokenizer tok = tokenizerWith(concepts.stream().map(Concept::placeholder).toList());
    NDArray added = rm.create(stackEmbeddings(concepts), new Shape(concepts.size(), textEncoder.config().hiddenSize()))
        .toType(options.dtype(), false).toDevice(options.device(), false);
    NDArray values = textEncoder.forward(tok.encode(rows(r.prompt(), r, b), rm).toDevice(options.device(), false), added);
    NDArray keys = values;
    if (r.globalLock()) {
      String superPrompt = r.prompt();
      for (Concept c : concepts) {
        superPrompt = superPrompt.replaceAll("(?i)(?<![\\p{L}\\p{N}])" + java.util.regex.Pattern.quote(c.placeholder()) + "(?![\\p{L}\\p{N}])",
            java.util.regex.Matcher.quoteReplacement(c.superclass()));
      }
      keys = encodePrompts(rows(superPrompt, r, b), rm);
    }
    List<ConceptEdit> edits = new ArrayList<>();
    for (ConceptUse u : r.concepts()) {
      edits.add(ConceptEdits.toEdit(u, rm, options));
    }
    return new Conditioning(keys, values, new PerfusionProcessor(cov, edits, rm, options.dtype()));
  }

  /** Per token of a prompt: its text, and for each concept s(e) and the gate (docs/perfusion-method.md section 2). */
  public record TokenGates(List<String> tokens, float[][] similarity, float[][] gates) {}

  /**
   * How the concepts' gates open over the {@link ClipTokenizer#maxLength()} tokens of {@code prompt}
   * (start, content, end, padding): which token encodings each rank-1 edit acts on. For
   * diagnosing a concept that leaks into the whole image or never shows.
   */
  public TokenGates tokenGates(String prompt, List<ConceptUse> uses) {
    if (uses.isEmpty()) {
      throw new IllegalArgumentException("tokenGates needs at least one concept");
    }
    // Guidance 1: only the prompt's row is encoded, no unconditional one.
    GenerateRequest r = GenerateRequest.builder(prompt).optConcepts(uses).optGuidanceScale(1f).build();
    try (NDManager rm = manager.newSubManager()) {
      Conditioning cond = conditioning(r, 1, rm);
      PerfusionProcessor p = (PerfusionProcessor) cond.processor();
      int n = uses.size();
      float[] s = p.similarities(cond.valueStates()).toType(DataType.FLOAT32, false).toFloatArray();
      float[] g = p.gates(cond.valueStates()).toType(DataType.FLOAT32, false).toFloatArray();
      int t = s.length / n;
      float[][] sim = new float[t][n];
      float[][] gates = new float[t][n];
      for (int i = 0; i < t; i++) {
        for (int j = 0; j < n; j++) {
          sim[i][j] = s[i * n + j];
          gates[i][j] = g[i * n + j];
        }
      }
      ClipTokenizer tok = tokenizerWith(uses.stream().map(u -> u.concept().placeholder()).toList());
      List<String> tokens = new ArrayList<>();
      tokens.add("<start>");
      tokens.addAll(tok.tokens(prompt));
      tokens.add("<end>");
      while (tokens.size() < t) {
        tokens.add("<pad>");
      }
      return new TokenGates(tokens.subList(0, t), sim, gates); // a long prompt is truncated to t tokens
    }
  }

  // Building a tokenizer with added words re-reads the whole vocabulary (49,408 entries for SD):
  // keep the recent ones.
  private final Map<List<String>, ClipTokenizer> tokenizers = new java.util.LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<List<String>, ClipTokenizer> eldest) {
      if (size() > 32) {
        eldest.getValue().close();
        return true;
      }
      return false;
    }
  };

  /** The tokenizer with these placeholders added, in this order (so ids match the embeddings). */
  public synchronized ClipTokenizer tokenizerWith(List<String> placeholders) {
    return tokenizers.computeIfAbsent(List.copyOf(placeholders), tokenizer::withAddedTokens);
  }

  private static float[] stackEmbeddings(List<Concept> concepts) {
    int d = concepts.get(0).embedding().length;
    float[] flat = new float[concepts.size() * d];
    for (int i = 0; i < concepts.size(); i++) {
      System.arraycopy(concepts.get(i).embedding(), 0, flat, i * d, d);
    }
    return flat;
  }

  /** Text rows of a request: [negative x B, prompt x B] with guidance (diffusers' order), else [prompt x B]. */
  private static List<String> rows(String prompt, GenerateRequest r, int b) {
    List<String> out = new ArrayList<>();
    if (r.guided()) {
      out.addAll(Collections.nCopies(b, r.negativePrompt()));
    }
    out.addAll(Collections.nCopies(b, prompt));
    return out;
  }

  private Covariance covariance;

  /** The Perfusion Cinv of this base model: set explicitly, or read from the model folder. */
  public synchronized Covariance covariance() {
    if (covariance == null) {
      Path file = folder.root().resolve(Covariance.FILE_NAME);
      if (!java.nio.file.Files.isRegularFile(file)) {
        throw new IllegalStateException("no Perfusion covariance for " + folder.root() + ": run `perfusion covariance --model "
            + folder.root() + "` first (expected " + file + ")");
      }
      try {
        covariance = Covariance.load(file);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    return covariance;
  }

  public synchronized void setCovariance(Covariance cov) {
    if (cov.dim() != textEncoder.config().hiddenSize()) {
      throw new IllegalArgumentException("Cinv is " + cov.dim() + " wide but the text encoder is " + textEncoder.config().hiddenSize());
    }
    this.covariance = cov;
  }

  /** File in a model folder with its Perfusion training prompts, one per line, each with {} for the concept word. */
  public static final String TEMPLATES_FILE = "perfusion_templates.txt";

  /**
   * Perfusion training prompts that suit this model's caption language: the folder's
   * {@value #TEMPLATES_FILE} when present (a model trained on other captions than photos, such
   * as the project's world model, ships its own), else the method's photo templates.
   */
  public List<String> trainingTemplates() throws IOException {
    return trainingTemplates(folder.root());
  }

  /** {@link #trainingTemplates()} of the model folder {@code root}. */
  public static List<String> trainingTemplates(Path root) throws IOException {
    Path file = root.resolve(TEMPLATES_FILE);
    if (!java.nio.file.Files.isRegularFile(file)) {
      return org.perfusionjobs.engine.perfusion.TrainingConfig.DEFAULT_TEMPLATES;
    }
    List<String> lines = java.nio.file.Files.readAllLines(file).stream().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
    for (String l : lines) {
      if (!l.contains("{}")) {
        throw new IOException(file + ": template '" + l + "' has no {} for the concept word");
      }
    }
    if (lines.isEmpty()) {
      throw new IOException(file + " lists no templates");
    }
    return lines;
  }

  private String baseModelId;

  /**
   * Identifies the base model a concept belongs to: a hash of the component configs and weight
   * file sizes (cheap, and stable when the folder is copied or renamed).
   */
  public synchronized String baseModelId() {
    if (baseModelId == null) {
      try {
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        for (Path p : List.of(folder.textEncoder(), folder.unet(), folder.vae())) {
          md.update(java.nio.file.Files.readAllBytes(p.resolve("config.json")));
          try (var files = java.nio.file.Files.list(p)) {
            for (Path w : files.filter(f -> f.toString().endsWith(".safetensors")).sorted().toList()) {
              md.update((w.getFileName() + ":" + java.nio.file.Files.size(w)).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
          }
        }
        baseModelId = "sd1:" + java.util.HexFormat.of().formatHex(md.digest()).substring(0, 16);
      } catch (IOException | java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException("cannot fingerprint " + folder.root() + ": " + e.getMessage(), e);
      }
    }
    return baseModelId;
  }

  private NDArray denoise(SamplerRun run, int i, NDArray latents, Conditioning cond, GenerateRequest r, NoiseGenerator noise, NDManager rm) {
    NDArray in = r.guided() ? NDArrays.concat(new NDList(latents, latents)) : latents;
    in = run.scaleModelInput(in, i).toType(options.dtype(), false);
    NDArray eps = unet.forward(in, rm.create(run.modelTimesteps()[i]), cond);
    if (r.guided()) {
      NDList parts = eps.split(2);
      NDArray uncond = parts.get(0);
      eps = uncond.add(parts.get(1).sub(uncond).mul(r.guidanceScale()));
    }
    return run.step(eps, i, latents, noise);
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
    manager.close();
  }
}
