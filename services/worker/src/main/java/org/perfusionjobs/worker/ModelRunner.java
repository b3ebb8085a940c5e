package org.perfusionjobs.worker;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.perfusionjobs.engine.pipeline.DenoisingBatch;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.worker.WorkerConfig.Batching;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the pipeline (and so the device and its NDManagers). Two threads take turns on it, never at
 * the same time, through one fair lock held for one step at a time:
 *
 * <ul>
 *   <li>the batch thread runs the {@link DenoisingBatch}: every generation request joins it and
 *       shares its UNet calls ({@link #generate});
 *   <li>the job thread runs everything else, one task at a time ({@link #submit}), such as a
 *       training job, which calls {@link #yieldToBatch} between its steps.
 * </ul>
 *
 * <p>Policy (docs/decisions.md 26): while both have work they alternate step by step (the lock is
 * fair, so a waiting batch step goes before the next training step and the reverse), so neither
 * starves: a training job slows down by the batch's step time, and generations by one training
 * step. Nothing here blocks an event loop; callers get futures. Each thread keeps its own DJL
 * scopes (NDScope is per thread), so a batch step inside a training job cannot free the job's
 * arrays or the reverse. Also measures how busy the model is, for the utilisation metric.
 */
public final class ModelRunner implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ModelRunner.class);
  private final StableDiffusionPipeline pipeline;
  private final ExecutorService jobThread;
  private final Thread batchThread;
  private final DenoisingBatch batch;
  private final ReentrantLock model = new ReentrantLock(true);
  private final long startedNanos = System.nanoTime();
  private final AtomicLong busyNanos = new AtomicLong();
  private volatile boolean running = true;
  private volatile long heldSince; // 0 while the model is free

  public ModelRunner(StableDiffusionPipeline pipeline, String name) {
    this(pipeline, name, Batching.DEFAULTS);
  }

  public ModelRunner(StableDiffusionPipeline pipeline, String name, Batching batching) {
    this.pipeline = pipeline;
    this.batch = new DenoisingBatch(pipeline, batching.maxImages(), batching.joinWait());
    this.jobThread =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, name);
              t.setDaemon(true);
              return t;
            });
    this.batchThread = new Thread(this::runBatch, name + "-batch");
    batchThread.setDaemon(true);
    batchThread.start();
  }

  /** Runs {@code work} on the job thread, holding the model (see {@link #yieldToBatch}). */
  public <T> CompletableFuture<T> submit(Function<StableDiffusionPipeline, T> work) {
    return CompletableFuture.supplyAsync(
        () -> {
          acquire();
          try {
            return work.apply(pipeline);
          } finally {
            release();
          }
        },
        jobThread);
  }

  /**
   * Lets the batch run one step if it has work; called by a job between its own steps, on the job
   * thread, while the model is not in use.
   */
  public void yieldToBatch() {
    if (model.isHeldByCurrentThread() && !batch.isIdle()) {
      release();
      acquire();
    }
  }

  /**
   * Joins the request to the running batch at its next step; the future completes on the batch
   * thread.
   */
  public CompletableFuture<GenerateResult> generate(GenerateRequest request) {
    return batch.submit(request);
  }

  /** Requests in the batch now (for metrics and tests). */
  public int batchedRequests() {
    return batch.activeCount();
  }

  /** UNet calls the batch has made (fewer than the requests' steps when they shared calls). */
  public long batchUnetCalls() {
    return batch.unetCalls();
  }

  private void runBatch() {
    while (running) {
      try {
        if (!batch.awaitWork(Duration.ofMillis(200))) {
          continue;
        }
        acquire();
        try {
          batch.step();
        } finally {
          release();
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException | Error e) {
        // A step's failure fails its requests (DenoisingBatch); anything else must not kill the
        // thread.
        LOG.error("batch step failed", e);
      }
    }
  }

  private void acquire() {
    model.lock();
    heldSince = System.nanoTime();
  }

  private void release() {
    busyNanos.addAndGet(System.nanoTime() - heldSince);
    heldSince = 0;
    model.unlock();
  }

  /** Fraction of wall time the model has been in use since start, 0..1. */
  public double utilisation() {
    long now = System.nanoTime();
    long since = heldSince;
    long running = since == 0 ? 0 : now - since;
    return Math.min(1, (busyNanos.get() + running) / (double) Math.max(1, now - startedNanos));
  }

  public StableDiffusionPipeline pipeline() {
    return pipeline;
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    jobThread.shutdownNow();
    jobThread.awaitTermination(30, TimeUnit.SECONDS);
    batchThread.interrupt();
    batchThread.join(30_000);
    model.lock();
    try {
      batch.close();
      pipeline.close();
    } finally {
      model.unlock();
    }
  }
}
