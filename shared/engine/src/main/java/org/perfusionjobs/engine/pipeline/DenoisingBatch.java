package org.perfusionjobs.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.perfusionjobs.engine.attention.Attention;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.scheduler.NoiseGenerator;
import org.perfusionjobs.engine.scheduler.SamplerRun;
import org.perfusionjobs.engine.scheduler.Samplers;

/**
 * Step-level continuous batching: generation requests join between denoising steps and leave when
 * their last step is done; each {@link #step} runs the UNet once for the active requests that can
 * share a call (the same latent size and UNet weight edits of the same effect), the oldest first,
 * up to {@code maxImages} requested images per call; later ones wait for a place. Every request
 * keeps its own prompt, conditioning (concepts and their settings), seed and noise, sampler, step
 * count, guidance and cancel flag; only the UNet call is shared, with per-row timesteps and
 * per-request K/V stacked along the batch ({@link Conditioning#stacked}). A request's images are
 * the ones it gets alone, up to the rounding of a larger matrix product.
 *
 * <p>Threads: {@link #submit} may be called from any thread; everything else belongs to the one
 * model thread that owns the pipeline. Results complete on that thread.
 *
 * <p>Memory: each request owns a sub-manager of the pipeline's (its conditioning, latents and
 * sampler state), closed when it leaves; each step's intermediates live in an {@link NDScope}.
 */
public final class DenoisingBatch implements AutoCloseable {
  private final StableDiffusionPipeline sd;
  private final int maxImages;
  private final Duration joinWait;
  private final BlockingQueue<Active> pending = new LinkedBlockingQueue<>();
  private final List<Active> active = new ArrayList<>();
  private long unetCalls;

  /**
   * @param maxImages requested images per UNet call (with guidance the call has twice as many
   *     rows); a request larger than this runs in a call of its own; 1 runs requests one after
   *     another
   * @param joinWait how long a request's first step waits for others to join it while the batch has
   *     room (zero: never)
   */
  public DenoisingBatch(StableDiffusionPipeline sd, int maxImages, Duration joinWait) {
    if (maxImages < 1) {
      throw new IllegalArgumentException("max batch must be at least 1 image, got " + maxImages);
    }
    this.sd = Objects.requireNonNull(sd, "sd");
    this.maxImages = maxImages;
    this.joinWait = Objects.requireNonNull(joinWait, "joinWait");
  }

  /**
   * Queues a request; it joins at the next {@link #step}. The future fails with {@link
   * GenerationCancelledException} when its cancel check fires, with {@link
   * IllegalArgumentException} for a request the model cannot run, and with the error of a failed
   * UNet call for every request of that call.
   */
  public CompletableFuture<GenerateResult> submit(GenerateRequest r) {
    Active a = new Active(Objects.requireNonNull(r, "request"));
    pending.add(a);
    return a.result;
  }

  /**
   * A finished request's result, or the request's own error as it was thrown (not wrapped in a
   * {@link CompletionException}).
   */
  public static GenerateResult join(CompletableFuture<GenerateResult> result) {
    try {
      return result.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw e;
    }
  }

  /** Requests joined and not finished. */
  public int activeCount() {
    return active.size();
  }

  /** Whether nothing is active or queued. */
  public boolean isIdle() {
    return active.isEmpty() && pending.isEmpty();
  }

  /** UNet calls made so far (a measure of how much sharing happened). */
  public long unetCalls() {
    return unetCalls;
  }

  /**
   * Blocks while nothing is active or queued, at most {@code timeout}; returns whether there is
   * work. The model thread's idle wait.
   */
  public boolean awaitWork(Duration timeout) throws InterruptedException {
    if (!isIdle()) {
      return true;
    }
    Active a = pending.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    if (a != null) {
      pending.add(a);
    }
    return a != null;
  }

  /** Runs steps until every submitted request (including ones submitted meanwhile) is done. */
  public void drain() {
    while (!isIdle()) {
      step();
    }
  }

  /**
   * Admits queued requests, then runs one denoising step of every active request: one UNet call per
   * group of requests that can share one. Requests that finish are decoded and completed.
   */
  public void step() {
    admit();
    if (active.isEmpty()) {
      return;
    }
    List<Active> live = new ArrayList<>();
    for (Active a : active) {
      if (a.request.cancelled().getAsBoolean()) {
        a.fail(new GenerationCancelledException(a.index));
      } else {
        live.add(a);
      }
    }
    for (List<Active> call : calls(live)) {
      runStep(call);
    }
    active.removeIf(a -> a.result.isDone());
  }

  /**
   * Starts every queued request. With a join wait, a step in which a request would take its first
   * step waits (until the wait is over or the batch is full) for others to start with it.
   */
  private void admit() {
    for (Active a = pending.poll(); a != null; a = pending.poll()) {
      start(a);
    }
    if (joinWait.isZero() || active.stream().noneMatch(a -> a.index == 0)) {
      return;
    }
    long deadline = System.nanoTime() + joinWait.toNanos();
    try {
      while (images(active) < maxImages) {
        long left = deadline - System.nanoTime();
        Active a = left > 0 ? pending.poll(left, TimeUnit.NANOSECONDS) : null;
        if (a == null) {
          return;
        }
        start(a);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void start(Active a) {
    try {
      a.start();
      active.add(a);
    } catch (RuntimeException e) {
      a.fail(e);
    }
  }

  private static int images(List<Active> as) {
    int n = 0;
    for (Active a : as) {
      n += a.request.batchSize();
    }
    return n;
  }

  /**
   * Groups by what must be equal in one UNet call; each group runs its oldest requests that fit in
   * the image limit (at least one), and the rest wait in join order for a free place: first come,
   * first served, so a limit of 1 runs requests one after another.
   */
  private List<List<Active>> calls(List<Active> live) {
    Map<GroupKey, List<Active>> groups = new LinkedHashMap<>();
    for (Active a : live) {
      groups.computeIfAbsent(a.groupKey(), k -> new ArrayList<>()).add(a);
    }
    List<List<Active>> calls = new ArrayList<>();
    for (List<Active> g : groups.values()) {
      List<Active> call = new ArrayList<>();
      int n = 0;
      for (Active a : g) {
        if (!call.isEmpty() && n + a.request.batchSize() > maxImages) {
          break;
        }
        call.add(a);
        n += a.request.batchSize();
      }
      calls.add(call);
    }
    return calls;
  }

  private void runStep(List<Active> call) {
    List<NDArray> next = new ArrayList<>(call.size());
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDList inputs = new NDList();
      List<Conditioning> conds = new ArrayList<>();
      int rows = 0;
      for (Active a : call) {
        NDArray in = a.latents;
        if (a.branches() > 1) {
          NDList copies = new NDList();
          for (int k = 0; k < a.branches(); k++) {
            copies.add(a.latents);
          }
          in = NDArrays.concat(copies);
        }
        inputs.add(a.run.scaleModelInput(in, a.index).toType(sd.options().dtype(), false));
        conds.add(a.cond.atStep(a.index, a.run.timesteps().length));
        rows += a.rows();
      }
      NDArray eps;
      if (call.size() == 1) {
        Active a = call.get(0);
        eps =
            sd.unet()
                .forward(inputs.get(0), a.rm.create(a.run.modelTimesteps()[a.index]), conds.get(0));
      } else {
        float[] t = new float[rows];
        int r = 0;
        for (Active a : call) {
          float ti = a.run.modelTimesteps()[a.index];
          for (int k = 0; k < a.rows(); k++) {
            t[r++] = ti;
          }
        }
        NDManager m = call.get(0).rm;
        Conditioning stacked = Conditioning.stacked(conds, sd.unet().crossAttentions());
        eps = sd.unet().forward(NDArrays.concat(inputs), m.create(t), stacked);
      }
      unetCalls++;
      int offset = 0;
      for (Active a : call) {
        NDArray mine =
            call.size() == 1 ? eps : eps.get(new NDIndex("{}:{}", offset, offset + a.rows()));
        offset += a.rows();
        if (a.request.anchored()) {
          NDList parts = mine.split(3);
          NDArray uncond = parts.get(0);
          NDArray anchor = parts.get(1);
          mine =
              uncond
                  .add(anchor.sub(uncond).mul(a.request.guidanceScale()))
                  .add(parts.get(2).sub(anchor).mul(a.request.anchorGuidanceScale()));
        } else if (a.request.guided()) {
          NDList parts = mine.split(2);
          NDArray uncond = parts.get(0);
          mine = uncond.add(parts.get(1).sub(uncond).mul(a.request.guidanceScale()));
        }
        NDArray n = a.run.step(mine, a.index, a.latents, a.noise);
        NDScope.unregister(n);
        next.add(n);
      }
    } catch (RuntimeException e) {
      for (NDArray n : next) {
        n.close();
      }
      for (Active a : call) {
        a.fail(e);
      }
      return;
    }
    for (int j = 0; j < call.size(); j++) {
      call.get(j).advance(next.get(j));
    }
  }

  @Override
  public void close() {
    RuntimeException closed = new IllegalStateException("the denoising batch was closed");
    for (Active a : active) {
      a.fail(closed);
    }
    active.clear();
    for (Active a = pending.poll(); a != null; a = pending.poll()) {
      a.fail(closed);
    }
  }

  /** One request while it is in the batch. */
  private final class Active {
    final GenerateRequest request;
    final CompletableFuture<GenerateResult> result = new CompletableFuture<>();
    NDManager rm;
    Conditioning cond;
    SamplerRun run;
    NoiseGenerator noise;
    NDArray latents;
    Shape latentShape;
    int width;
    int height;
    int index;
    long t0;
    long t1;

    Active(GenerateRequest request) {
      this.request = request;
    }

    int rows() {
      return branches() * request.batchSize();
    }

    /** Noise predictions per image: prompt, negative, anchor. */
    int branches() {
      return request.anchored() ? 3 : request.guided() ? 2 : 1;
    }

    /** Requests with equal keys can share a UNet call (weight edits by {@code shareKey}). */
    GroupKey groupKey() {
      return new GroupKey(
          latentShape.get(1),
          latentShape.get(2),
          latentShape.get(3),
          cond.unetEdits().shareKey(),
          cond.regions().isEmpty() ? null : this);
    }

    /** Validates, encodes the text and projects every layer's K/V once, draws the initial noise. */
    void start() {
      GenerateRequest r = request;
      width = r.width() == 0 ? sd.defaultImageSize() : r.width();
      height = r.height() == 0 ? sd.defaultImageSize() : r.height();
      int f = sd.vae().config().spatialFactor();
      if (width % f != 0 || height % f != 0) {
        throw new IllegalArgumentException(
            "width and height must be multiples of " + f + ", got " + width + "x" + height);
      }
      latentShape = sd.latentShape(r.batchSize(), width, height);
      if (r.latents() != null && !r.latents().toShape().equals(latentShape)) {
        throw new IllegalArgumentException(
            "latents have shape "
                + r.latents().toShape()
                + " but this request needs "
                + latentShape
                + " (batch, channels, height/"
                + f
                + ", width/"
                + f
                + ")");
      }
      rm = sd.manager().newSubManager();
      try {
        t0 = System.nanoTime();
        cond = r.conditioner().condition(sd, r.promptBatch(), rm);
        // K/V of every cross-attention layer depend only on the text: project them once, here.
        try (var edits = cond.unetEdits().install(sd.unet())) {
          for (Conditioning part : cond.parts()) {
            for (Attention a : sd.unet().crossAttentions()) {
              part.keyValue(a);
              for (Conditioning.Regional region : part.regions()) {
                region.text().keyValue(a);
              }
            }
          }
        }
        t1 = System.nanoTime();
        noise = new NoiseGenerator(r.seed());
        run = Samplers.create(r.sampler(), sd.schedulerConfig(), r.steps(), r.eta());
        rm.attachInternal("sampler-run", run);
        // Latents stay fp32 whatever the model's precision; only the UNet input is cast.
        NDArray x = r.latents() != null ? r.latents().toArray(rm) : noise.normal(latentShape, rm);
        latents = x.toDevice(sd.options().device(), false).mul(run.initNoiseSigma());
      } catch (RuntimeException e) {
        rm.close();
        rm = null;
        throw e;
      }
    }

    /** Takes the step's new latents, reports progress, and finishes after the last step. */
    void advance(NDArray next) {
      // The previous latents' preview was only valid inside the previous callback.
      NDArray previous = latents;
      latents = next;
      previous.close();
      int done = ++index;
      long[] timesteps = run.timesteps();
      NDArray current = latents;
      try {
        request
            .onStep()
            .accept(
                new StepProgress(
                    done,
                    timesteps.length,
                    timesteps[done - 1],
                    Duration.ofNanos(System.nanoTime() - t1),
                    () -> sd.decode(current)));
        if (done == timesteps.length) {
          long t2 = System.nanoTime();
          List<BufferedImage> images = sd.decode(latents);
          long t3 = System.nanoTime();
          GenerateResult g =
              new GenerateResult(
                  images,
                  request.seed(),
                  width,
                  height,
                  Duration.ofNanos(t1 - t0),
                  Duration.ofNanos(t2 - t1),
                  Duration.ofNanos(t3 - t2),
                  latents.toType(DataType.FLOAT32, false).toFloatArray());
          rm.close();
          rm = null;
          result.complete(g);
        }
      } catch (RuntimeException e) {
        fail(e);
      }
    }

    void fail(Throwable e) {
      if (rm != null) {
        rm.close();
        rm = null;
      }
      result.completeExceptionally(e);
    }
  }

  /**
   * What requests sharing a call must have in common: latent size, the edits' {@link
   * org.perfusionjobs.engine.nn.WeightEdits#shareKey}, and for a request with regions ({@code
   * alone}) the request itself, since its masks are its own (null for the others).
   */
  private record GroupKey(long channels, long height, long width, Object edits, Object alone) {}
}
