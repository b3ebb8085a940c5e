package org.perfusionjobs.worker;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.perfusionjobs.contracts.TrainRequestV1.ImageRef;
import org.perfusionjobs.engine.image.ImageCodec;

/**
 * Resolves a request's image references: inline base64, a blob in Redis, or a URL whose prefix is
 * on the allow-list (nothing else is ever fetched). Errors name the field.
 */
final class ImageFetcher {
  private static final int MAX_URL_BYTES = 8 * 1024 * 1024;
  private final RedisStore redis;
  private final List<String> allowList;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).followRedirects(HttpClient.Redirect.NEVER).build();

  ImageFetcher(RedisStore redis, List<String> allowList) {
    this.redis = redis;
    this.allowList = allowList;
  }

  BufferedImage fetch(ImageRef ref, String field) throws JobFailure {
    byte[] bytes;
    String source;
    if (ref.base64() != null) {
      source = field + "/base64";
      try {
        bytes = Base64.getDecoder().decode(ref.base64());
      } catch (IllegalArgumentException e) {
        throw new JobFailure(source, "not valid base64: " + e.getMessage());
      }
    } else if (ref.blobId() != null) {
      source = field + "/blobId";
      bytes = redis.blob(ref.blobId());
      if (bytes == null) {
        throw new JobFailure(source, "blob '" + ref.blobId() + "' does not exist (expired or never uploaded)");
      }
    } else {
      source = field + "/url";
      bytes = download(ref.url(), source);
    }
    try {
      return ImageCodec.decode(bytes, source);
    } catch (IOException e) {
      throw new JobFailure(source, e.getMessage());
    }
  }

  private byte[] download(String url, String field) throws JobFailure {
    if (allowList.stream().noneMatch(url::startsWith)) {
      throw new JobFailure(field, "URL " + url + " is not on the allow-list");
    }
    try {
      HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
      if (r.statusCode() != 200) {
        throw new JobFailure(field, "GET " + url + " answered " + r.statusCode());
      }
      if (r.body().length > MAX_URL_BYTES) {
        throw new JobFailure(field, "image at " + url + " is over " + MAX_URL_BYTES + " bytes");
      }
      return r.body();
    } catch (IOException | IllegalArgumentException e) {
      throw new JobFailure(field, "could not fetch " + url + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new JobFailure(field, "interrupted while fetching " + url);
    }
  }
}
