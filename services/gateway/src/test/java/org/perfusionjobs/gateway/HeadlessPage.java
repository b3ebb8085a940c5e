package org.perfusionjobs.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.perfusionjobs.contracts.Schemas;

/**
 * One page in headless Debian Chromium, driven through the DevTools protocol on loopback: the test
 * types into the page's fields and clicks its buttons by running script in it, as a user's clicks
 * would (the page's own handlers run). Closing it ends Chromium and deletes its profile.
 */
final class HeadlessPage implements AutoCloseable {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private final Process chromium;
  private final Path profile;
  private final WebSocket socket;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, CompletableFuture<JsonNode>> replies = new ConcurrentHashMap<>();

  private HeadlessPage(Process chromium, Path profile, WebSocket socket) {
    this.chromium = chromium;
    this.profile = profile;
    this.socket = socket;
  }

  /** Debian's Chromium, which the page tests need (.ci/run installs it). */
  static String chromium() {
    return Stream.of("/usr/bin/chromium", "/usr/bin/chromium-browser")
        .filter(p -> Files.isExecutable(Path.of(p)))
        .findFirst()
        .orElseThrow(
            () -> new AssertionError("headless Chromium is required: apt-get install -y chromium"));
  }

  /** Opens {@code url} in a fresh headless Chromium with its own empty profile. */
  static HeadlessPage open(String url) throws Exception {
    String binary = chromium();
    Path profile = Files.createTempDirectory("chromium-profile");
    Process p =
        new ProcessBuilder(
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--user-data-dir=" + profile,
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                url)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    try {
      // Port 0: Chromium picks a free port and writes it to DevToolsActivePort in the profile.
      Path active = profile.resolve("DevToolsActivePort");
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (!Files.exists(active) || Files.readAllLines(active).isEmpty()) {
        if (System.nanoTime() > deadline || !p.isAlive()) {
          throw new AssertionError("Chromium did not open its DevTools port");
        }
        Thread.sleep(100);
      }
      int port = Integer.parseInt(Files.readAllLines(active).get(0).trim());
      HttpClient http = HttpClient.newHttpClient();
      String ws = null;
      while (ws == null) {
        JsonNode targets =
            Schemas.json()
                .readTree(
                    http.send(
                            HttpRequest.newBuilder(
                                    URI.create("http://127.0.0.1:" + port + "/json/list"))
                                .build(),
                            HttpResponse.BodyHandlers.ofString())
                        .body());
        for (JsonNode t : targets) {
          if ("page".equals(t.path("type").asText())) {
            ws = t.get("webSocketDebuggerUrl").asText();
          }
        }
        if (ws == null) {
          if (System.nanoTime() > deadline) {
            throw new AssertionError("Chromium opened no page");
          }
          Thread.sleep(100);
        }
      }
      HeadlessPage[] page = new HeadlessPage[1];
      WebSocket socket =
          http.newWebSocketBuilder()
              .buildAsync(URI.create(ws), new Replies(r -> page[0].reply(r)))
              .get(30, TimeUnit.SECONDS);
      page[0] = new HeadlessPage(p, profile, socket);
      return page[0];
    } catch (Exception | Error e) {
      p.destroyForcibly();
      delete(profile);
      throw e;
    }
  }

  /** The value of {@code expression} in the page (a promise is awaited); JSON null if none. */
  JsonNode eval(String expression) throws Exception {
    int id = ids.incrementAndGet();
    CompletableFuture<JsonNode> reply = new CompletableFuture<>();
    replies.put(id, reply);
    ObjectNode msg = Schemas.json().createObjectNode().put("id", id);
    msg.put("method", "Runtime.evaluate");
    msg.putObject("params")
        .put("expression", expression)
        .put("returnByValue", true)
        .put("awaitPromise", true);
    socket.sendText(Schemas.json().writeValueAsString(msg), true).get(30, TimeUnit.SECONDS);
    JsonNode r = reply.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    if (r.has("error") || r.path("result").has("exceptionDetails")) {
      throw new AssertionError("script failed in the page: " + expression + " -> " + r);
    }
    return r.path("result").path("result").path("value");
  }

  /** Waits until {@code expression} is true in the page. */
  void await(String what, String expression) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!eval(expression).asBoolean(false)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting in the page until " + what);
      }
      Thread.sleep(100);
    }
  }

  /** Types {@code value} into the field {@code id} as a user would (its input event fires). */
  void type(String id, String value) throws Exception {
    onElement(
        id,
        "e.value = "
            + Schemas.json().writeValueAsString(value)
            + "; e.dispatchEvent(new Event('input', { bubbles: true }));");
  }

  /** Selects exactly {@code values} in the list {@code id}, as a user's Ctrl-clicks would. */
  void choose(String id, String... values) throws Exception {
    onElement(
        id,
        "const want = "
            + Schemas.json().writeValueAsString(values)
            + "; for (const o of e.options) o.selected = want.includes(o.value);");
  }

  /** Puts {@code files} (name to bytes) in the file input {@code id}, as a user's choice would. */
  void attach(String id, Map<String, byte[]> files) throws Exception {
    StringBuilder script = new StringBuilder("const dt = new DataTransfer(); ");
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      script
          .append("dt.items.add(new File([Uint8Array.from(atob(")
          .append(
              Schemas.json().writeValueAsString(Base64.getEncoder().encodeToString(f.getValue())))
          .append("), c => c.charCodeAt(0))], ")
          .append(Schemas.json().writeValueAsString(f.getKey()))
          .append(", { type: 'image/png' })); ");
    }
    onElement(id, script + "e.files = dt.files;");
  }

  /** Runs {@code script} with {@code e} the element {@code id}, then fires its change event. */
  private void onElement(String id, String script) throws Exception {
    eval(
        "(() => { const e = document.getElementById("
            + Schemas.json().writeValueAsString(id)
            + "); "
            + script
            + " e.dispatchEvent(new Event('change', { bubbles: true })); return true; })()");
  }

  /** Clicks the element {@code id}. */
  void click(String id) throws Exception {
    eval("document.getElementById(" + Schemas.json().writeValueAsString(id) + ").click(), true");
  }

  private void reply(JsonNode r) {
    CompletableFuture<JsonNode> f = r.has("id") ? replies.remove(r.get("id").asInt()) : null;
    if (f != null) {
      f.complete(r);
    }
  }

  @Override
  public void close() {
    socket.abort();
    chromium.destroyForcibly();
    try {
      chromium.waitFor(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    delete(profile);
  }

  private static void delete(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // a profile left in the temp folder is not worth failing a test for
    }
  }

  /** Collects the DevTools messages, one JSON object per (possibly fragmented) text frame. */
  private static final class Replies implements WebSocket.Listener {
    private final java.util.function.Consumer<JsonNode> sink;
    private final StringBuilder partial = new StringBuilder();

    Replies(java.util.function.Consumer<JsonNode> sink) {
      this.sink = sink;
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        try {
          sink.accept(Schemas.json().readTree(partial.toString()));
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
        partial.setLength(0);
      }
      ws.request(1);
      return null;
    }
  }
}
