package org.perfusionjobs.worker;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.perfusionjobs.contracts.ConceptRegistered;
import org.perfusionjobs.contracts.FieldError;
import org.perfusionjobs.contracts.GenerateRequestV1;
import org.perfusionjobs.contracts.JobEvent;
import org.perfusionjobs.contracts.TrainRequest;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.perfusion.Concept;
import org.perfusionjobs.engine.perfusion.ConceptCompatibility;
import org.perfusionjobs.engine.perfusion.ConceptFile;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.Flip;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.perfusion.TrainerState;
import org.perfusionjobs.engine.perfusion.TrainingConfig;
import org.perfusionjobs.engine.perfusion.TrainingImages;
import org.perfusionjobs.engine.personalization.ConceptGuidance;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;

/**
 * Runs a validated job on the engine (called on the model thread): maps the request to the
 * engine's, reports progress, and stores what the job made — images as blobs with a TTL, concepts
 * in the registry topic and the Redis cache, all under the job's tenant ({@link RedisStore}).
 * Checks the model's compute budgets ({@link WorkerConfig#budgets}) before any work.
 */
final class JobExecutor {
  /** TrainingConfig's field names as the train request's JSON pointers, for one-line errors. */
  private static final Map<String, String> REQUEST_FIELDS =
      Map.ofEntries(
          Map.entry("placeholder", "/conceptName"),
          Map.entry("superclass", "/superclass"),
          Map.entry("steps", "/steps"),
          Map.entry("batchSize", "/options/batchSize"),
          Map.entry("gradientAccumulation", "/options/gradientAccumulation"),
          Map.entry("valueLearningRate", "/options/learningRateValue"),
          Map.entry("embeddingLearningRate", "/options/learningRateEmbedding"),
          Map.entry("embeddingNormCap", "/options/embeddingNormCap"),
          Map.entry("backgroundWeight", "/options/backgroundWeight"),
          Map.entry("flip", "/options/flip"),
          Map.entry("keyRate", "/options/keyRate"));

  private final WorkerConfig cfg;
  private final RedisStore redis;
  private final EventPublisher publisher;
  private final Metrics metrics;

  JobExecutor(WorkerConfig cfg, RedisStore redis, EventPublisher publisher, Metrics metrics) {
    this.cfg = cfg;
    this.redis = redis;
    this.publisher = publisher;
    this.metrics = metrics;
  }

  /**
   * Checks a generation job against the model and the budgets and builds its engine request; cheap
   * and off the model (the text is encoded when the request joins the batch).
   */
  GenerateRequest prepareGenerate(
      StableDiffusionPipeline sd,
      GenerateRequestV1 r,
      List<ConceptUse> concepts,
      JobReporter rep,
      BooleanSupplier cancelled)
      throws JobFailure {
    int factor = sd.vae().config().spatialFactor();
    if (r.width() % factor != 0) {
      throw new JobFailure(
          "/width", "must be a multiple of " + factor + " for this model, got " + r.width());
    }
    if (r.height() % factor != 0) {
      throw new JobFailure(
          "/height", "must be a multiple of " + factor + " for this model, got " + r.height());
    }
    FieldError over = cfg.budgets(sd.defaultImageSize()).check(r, sd.defaultImageSize());
    if (over != null) {
      throw new JobFailure(over.field(), over.reason());
    }
    SamplerKind kind = SamplerKind.fromName(r.sampler());
    if (r.eta() > 0 && kind != SamplerKind.DDIM) {
      throw new JobFailure("/eta", "only the ddim sampler takes eta, got sampler " + r.sampler());
    }
    ConceptGuidance guidance = GuidedRequests.guidance(r, concepts);
    GenerateRequest.Builder request = GenerateRequest.builder(r.prompt());
    if (guidance.on()) {
      request.optAnchor(guidance.anchor(r.prompt()), guidance.scale());
    }
    long[] lastStep = {System.nanoTime()};
    return request
        .optNegativePrompt(r.negativePrompt())
        .optSteps(r.steps())
        .optGuidanceScale(r.guidance().floatValue())
        .optSeed(r.seed())
        .optSize(r.width(), r.height())
        .optBatchSize(r.imageCount())
        .optSampler(kind)
        .optEta(r.eta().floatValue())
        .optConditioner(RegionalRequests.conditioner(r, PerfusionModel.of(sd), concepts, guidance))
        .optCancelled(cancelled)
        .optOnStep(
            p -> {
              long now = System.nanoTime();
              metrics.stepTime((now - lastStep[0]) / 1e9);
              lastStep[0] = now;
              testStepDelay();
              boolean preview = cfg.previewEvery() > 0 && p.step() % cfg.previewEvery() == 0;
              rep.progress(
                  p.step(),
                  p.total(),
                  null,
                  p.eta(),
                  preview ? () -> previewPng(p.preview().get().get(0)) : null);
            })
        .build();
  }

  /**
   * Stores a generation's images once the batch has run it ({@code error}: why it did not; a
   * request the model refuses at join is the job's failure, anything else propagates).
   */
  JobEvent.Result storeGenerated(
      GenerateRequestV1 r, GenerateResult result, Throwable error, BooleanSupplier cancelled)
      throws JobFailure {
    Throwable e =
        error instanceof java.util.concurrent.CompletionException && error.getCause() != null
            ? error.getCause()
            : error;
    if (e instanceof ConceptCompatibility.IncompatibleConceptException) {
      throw new JobFailure("/concepts", e.getMessage());
    } else if (e instanceof IllegalArgumentException) {
      throw new JobFailure("", e.getMessage());
    } else if (e instanceof RuntimeException re) {
      throw re;
    } else if (e instanceof Error err) {
      throw err;
    } else if (e != null) {
      throw new IllegalStateException(e);
    }
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < result.images().size(); i++) {
      String id = "img-" + r.jobId() + "-" + i;
      // Waits through a Redis outage (within the outage limit) unless the job is told to stop.
      redis.putBlob(
          r.tenant(),
          id,
          ImageCodec.pngBytes(result.images().get(i)),
          cfg.blobTtl(),
          () -> !cancelled.getAsBoolean());
      ids.add(id);
    }
    return JobEvent.Result.images(ids, result.width(), result.height(), result.total().toMillis());
  }

  /**
   * @param betweenSteps called after every training step, where the model is free: the batch of
   *     generations runs one step there ({@link ModelRunner#yieldToBatch})
   */
  JobEvent.Result train(
      StableDiffusionPipeline sd,
      TrainRequest r,
      TrainingImages images,
      JobReporter rep,
      BooleanSupplier cancelled,
      Runnable betweenSteps)
      throws JobFailure {
    if (r.baseModel() != null && !r.baseModel().equals(sd.baseModelId())) {
      throw new JobFailure(
          "/baseModel",
          "this worker runs base model " + sd.baseModelId() + ", not " + r.baseModel());
    }
    FieldError over = cfg.budgets(sd.defaultImageSize()).check(r);
    if (over != null) {
      throw new JobFailure(over.field(), over.reason());
    }
    TrainRequest.Options o = r.options();
    TrainingConfig tc;
    try {
      tc =
          TrainingConfig.defaults(r.conceptName(), r.superclass())
              .withSteps(r.steps())
              .withBatch(o.batchSize(), o.gradientAccumulation())
              .withLearningRates(
                  o.learningRateValue().floatValue(), o.learningRateEmbedding().floatValue())
              .withFlip(Flip.parse(o.flipMode()))
              .withSeed(o.seed())
              .withEmbeddingNormCap(o.embeddingNormCap().floatValue())
              .withBackgroundWeight(o.backgroundWeight().floatValue())
              .withKeyRate(o.keyRate().floatValue())
              .withCheckpointEvery(Math.max(1, cfg.checkpointEvery()))
              .withTemplates(PerfusionModel.of(sd).trainingTemplates());
    } catch (IOException e) {
      throw new UncheckedIOException(
          "the worker's model folder has unreadable training templates", e);
    } catch (IllegalArgumentException e) {
      String field = e.getMessage().split(" ")[0];
      throw new JobFailure(REQUEST_FIELDS.getOrDefault(field, "/" + field), e.getMessage());
    }
    TrainerState resume = null;
    byte[] saved = redis.checkpoint(r.tenant(), r.jobId());
    if (saved != null) {
      try {
        resume = TrainerState.fromBytes(saved);
      } catch (IOException e) {
        resume = null; // an unreadable checkpoint: start over
      }
    }
    long[] lastStep = {System.nanoTime()};
    long started = System.nanoTime();
    Concept concept =
        PerfusionModel.of(sd)
            .trainer()
            .train(
                images,
                tc,
                resume,
                p -> {
                  long now = System.nanoTime();
                  metrics.stepTime((now - lastStep[0]) / 1e9);
                  lastStep[0] = now;
                  testStepDelay();
                  rep.progress(p.step(), p.total(), p.loss(), p.eta(), null);
                  betweenSteps.run();
                },
                state -> {
                  try {
                    // Best effort: a training job never waits for Redis to save a checkpoint.
                    redis.putCheckpoint(r.tenant(), r.jobId(), state.toBytes(), Duration.ofDays(1));
                  } catch (IOException e) {
                    // A missed checkpoint only costs steps if the job is redelivered.
                  }
                },
                cancelled);
    byte[] file;
    try {
      file = ConceptFile.toBytes(concept);
    } catch (IOException e) {
      throw new IllegalStateException("cannot serialise the concept", e);
    }
    ConceptRegistered entry =
        new ConceptRegistered(
            r.jobId(),
            r.tenant(),
            concept.placeholder(),
            concept.superclass(),
            concept.baseModelId(),
            concept.cinvHash(),
            (double) concept.defaultBeta(),
            (double) concept.defaultTau(),
            Instant.now().toString(),
            Base64.getEncoder().encodeToString(file));
    try {
      // The registry is the source of truth: the job only succeeds once the concept is in it.
      // Waits out a broker outage as events do (the producer's delivery timeout is the outage
      // limit).
      publisher
          .concept(entry)
          .toCompletionStage()
          .toCompletableFuture()
          .get(publisher.deliveryTimeout().toSeconds() + 30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(
          "could not write the concept to the registry: " + e.getMessage(), e);
    }
    return JobEvent.Result.concept(
        r.jobId(), (System.nanoTime() - started) / 1_000_000, file.length);
  }

  /**
   * Test hook: the system property {@code perfusion.worker.testStepDelayMs} adds a pause after
   * every step, so a job on the tiny test model outlasts several lock renewals without burning CPU.
   * Unset (the default) it costs one property read per step.
   */
  static void testStepDelay() {
    long ms = Long.getLong("perfusion.worker.testStepDelayMs", 0L);
    if (ms > 0) {
      try {
        Thread.sleep(ms);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** A small PNG (at most 64 px a side), base64, for progress events. */
  static String previewPng(BufferedImage img) {
    int max = Math.max(img.getWidth(), img.getHeight());
    BufferedImage small = img;
    if (max > 64) {
      int w = img.getWidth() * 64 / max;
      int h = img.getHeight() * 64 / max;
      small = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
      Graphics2D g = small.createGraphics();
      g.setRenderingHint(
          RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.drawImage(img, 0, 0, w, h, null);
      g.dispose();
    }
    return Base64.getEncoder().encodeToString(ImageCodec.pngBytes(small));
  }
}
