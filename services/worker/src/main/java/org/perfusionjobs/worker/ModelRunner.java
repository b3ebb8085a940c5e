package org.perfusionjobs.worker;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;

/**
 * The model thread: owns the pipeline (and so the device and its NDManagers) and runs one job at a
 * time. Callers get a future; nothing here blocks an event loop. Also measures how busy the thread
 * is, for the utilisation metric.
 */
public final class ModelRunner implements AutoCloseable {
  private final StableDiffusionPipeline pipeline;
  private final ExecutorService thread;
  private final long startedNanos = System.nanoTime();
  private final AtomicLong busyNanos = new AtomicLong();
  private volatile long currentStart;

  public ModelRunner(StableDiffusionPipeline pipeline, String name) {
    this.pipeline = pipeline;
    this.thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
  }

  /** Runs {@code work} on the model thread. */
  public <T> CompletableFuture<T> submit(Function<StableDiffusionPipeline, T> work) {
    return CompletableFuture.supplyAsync(() -> {
      long s = System.nanoTime();
      currentStart = s;
      try {
        return work.apply(pipeline);
      } finally {
        currentStart = 0;
        busyNanos.addAndGet(System.nanoTime() - s);
      }
    }, thread);
  }

  /** Fraction of wall time the model thread has spent running jobs since start, 0..1. */
  public double utilisation() {
    long now = System.nanoTime();
    long running = currentStart == 0 ? 0 : now - currentStart;
    return (busyNanos.get() + running) / (double) Math.max(1, now - startedNanos);
  }

  public StableDiffusionPipeline pipeline() {
    return pipeline;
  }

  @Override
  public void close() throws InterruptedException {
    thread.shutdownNow();
    thread.awaitTermination(30, TimeUnit.SECONDS);
    pipeline.close();
  }
}
