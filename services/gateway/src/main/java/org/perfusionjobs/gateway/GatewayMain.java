package org.perfusionjobs.gateway;

import io.vertx.core.Vertx;

/** Runs one gateway process; settings from PERFUSION_* environment variables (config/README.md). */
public final class GatewayMain {
  private GatewayMain() {}

  public static void main(String[] args) {
    GatewayConfig cfg;
    try {
      cfg = GatewayConfig.from(System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
      return;
    }
    Vertx vertx = Vertx.vertx();
    vertx
        .deployVerticle(new GatewayVerticle(cfg))
        .onSuccess(id -> System.out.println("gateway on http://127.0.0.1:" + cfg.httpPort()))
        .onFailure(
            e -> {
              System.err.println("error: gateway did not start: " + e.getMessage());
              vertx.close();
              System.exit(1);
            });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> vertx.close().await()));
  }
}
