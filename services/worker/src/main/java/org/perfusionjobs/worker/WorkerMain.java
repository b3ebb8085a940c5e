package org.perfusionjobs.worker;

import io.vertx.core.Vertx;

/**
 * Runs one worker process. Settings come from PERFUSION_* environment variables (see
 * config/README.md); one worker per GPU, any number of machines, all in one share group.
 */
public final class WorkerMain {
  private WorkerMain() {}

  public static void main(String[] args) {
    // Belt and braces beside DJL_OFFLINE: DJL must never reach the network (it probes a cloud
    // metadata address).
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    WorkerConfig cfg;
    try {
      cfg = WorkerConfig.from(System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
      return;
    }
    Vertx vertx = Vertx.vertx();
    vertx
        .deployVerticle(new WorkerVerticle(cfg))
        .onFailure(
            e -> {
              System.err.println("error: worker did not start: " + e.getMessage());
              vertx.close();
              System.exit(1);
            });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> vertx.close().await()));
  }
}
