package org.perfusionjobs.gateway;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** One REST call to a gateway under test, as a client with a bearer token (or none) sends it. */
final class GatewayHttp {
  static final HttpClient CLIENT = HttpClient.newHttpClient();

  private GatewayHttp() {}

  static HttpResponse<byte[]> call(
      String base, String method, String path, String token, byte[] body) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(30))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }
}
