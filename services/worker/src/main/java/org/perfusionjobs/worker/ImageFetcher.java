package org.perfusionjobs.worker;

import java.awt.image.BufferedImage;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.IDN;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import org.perfusionjobs.contracts.Budgets;
import org.perfusionjobs.contracts.TrainRequest.ImageRef;
import org.perfusionjobs.engine.image.ImageCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resolves a request's image references: inline base64, a blob of the request's own tenant in
 * Redis, or an http(s) URL on the allow-list. Errors name the field.
 *
 * <p>URLs: scheme, host and port are compared exactly with an allow-list entry (and the path must
 * start with the entry's path at a segment boundary); userinfo, dot segments and encoded slashes
 * are refused. The host is resolved once, every address is checked (loopback, private, link-local,
 * multicast and other non-public ranges are refused unless {@link
 * WorkerConfig.Limits#fetchPrivateAddresses}), and the connection goes to that checked address (no
 * second lookup for a rebinding DNS server to answer). One HTTP/1.0 GET, no redirects, under one
 * deadline for connect, headers and body; the body is refused by its Content-Length when it
 * declares one and counted otherwise, never buffered beyond the cap. Every URL failure has the same
 * text, so the worker is no oracle for what answers where; the detail goes to the worker's log.
 * Decoded images are capped in pixels (read from the image header before decoding).
 */
final class ImageFetcher {
  private static final Logger LOG = LoggerFactory.getLogger(ImageFetcher.class);
  private static final int MAX_HEADER_BYTES = 16 * 1024;
  private final RedisStore redis;
  private final List<Prefix> allowList;
  private final boolean allowPrivate;
  private final Duration deadline;
  private final int maxBytes;
  private final long maxPixels;

  /** One allow-list entry, parsed. */
  private record Prefix(String scheme, String host, int port, String path) {}

  ImageFetcher(RedisStore redis, WorkerConfig cfg) {
    this(
        redis,
        cfg.urlAllowList(),
        cfg.limits(),
        cfg.limits().budgets().maxImagePixels() != null
            ? cfg.limits().budgets().maxImagePixels()
            : Budgets.DEFAULT_IMAGE_PIXELS);
  }

  ImageFetcher(
      RedisStore redis, List<String> allowList, WorkerConfig.Limits limits, long maxPixels) {
    this.redis = redis;
    this.allowList = allowList.stream().map(ImageFetcher::prefix).toList();
    this.allowPrivate = limits.fetchPrivateAddresses();
    this.deadline = limits.fetchDeadline();
    this.maxBytes = limits.fetchMaxBytes();
    this.maxPixels = maxPixels;
  }

  private static Prefix prefix(String entry) {
    try {
      URI u = new URI(entry).normalize();
      String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
      if (!scheme.equals("http") && !scheme.equals("https")
          || u.getHost() == null
          || u.getRawUserInfo() != null) {
        throw new IllegalArgumentException(
            "PERFUSION_URL_ALLOW_LIST entry '"
                + entry
                + "' must be http(s)://host[:port]/path without user info");
      }
      String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
      return new Prefix(
          scheme, u.getHost().toLowerCase(Locale.ROOT), effectivePort(scheme, u.getPort()), path);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "PERFUSION_URL_ALLOW_LIST entry '" + entry + "' is not a URL: " + e.getMessage());
    }
  }

  private static int effectivePort(String scheme, int port) {
    return port != -1 ? port : scheme.equals("https") ? 443 : 80;
  }

  BufferedImage fetch(String tenant, ImageRef ref, String field) throws JobFailure {
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
      // Looked up under the request's tenant: another tenant's blob is simply not there (same
      // answer as a missing one).
      bytes = redis.blob(tenant, ref.blobId());
      if (bytes == null) {
        throw new JobFailure(
            source, "blob '" + ref.blobId() + "' does not exist (expired or never uploaded)");
      }
    } else {
      source = field + "/url";
      bytes = download(ref.url(), source);
    }
    checkPixels(bytes, source);
    try {
      return ImageCodec.decode(bytes, source);
    } catch (IOException e) {
      throw new JobFailure(source, e.getMessage());
    }
  }

  /**
   * Refuses an image whose header declares more than the pixel cap, before any pixel is decoded.
   */
  private void checkPixels(byte[] bytes, String field) throws JobFailure {
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
      Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
      if (readers == null || !readers.hasNext()) {
        return; // not an image: decode says so with its own message
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        long px = (long) reader.getWidth(0) * reader.getHeight(0);
        if (px > maxPixels) {
          throw new JobFailure(
              field,
              "image of "
                  + reader.getWidth(0)
                  + " x "
                  + reader.getHeight(0)
                  + " pixels is over the limit of "
                  + maxPixels
                  + " pixels; send a smaller image");
        }
      } finally {
        reader.dispose();
      }
    } catch (IOException | RuntimeException e) {
      // An unreadable header: decode reports it.
    }
  }

  /** The one answer for every URL that is not fetched, whatever the reason. */
  private JobFailure refused(String field) {
    return new JobFailure(
        field,
        "URL not fetched: it must be on the allow-list, reach a public address and answer 200 with"
            + " an image of at most "
            + maxBytes
            + " bytes within "
            + deadline.toMillis()
            + " ms");
  }

  private byte[] download(String url, String field) throws JobFailure {
    long until = System.nanoTime() + deadline.toNanos();
    URI u;
    Prefix target;
    try {
      u = new URI(url);
      target = match(u);
    } catch (URISyntaxException e) {
      target = null;
      u = null;
    }
    if (target == null) {
      LOG.info("{}: URL {} refused: not on the allow-list", field, url);
      throw refused(field);
    }
    InetAddress address;
    try {
      InetAddress[] all = InetAddress.getAllByName(u.getHost());
      for (InetAddress a : all) {
        if (!allowPrivate && !isPublic(a)) {
          LOG.info(
              "{}: URL {} refused: {} resolves to non-public address {}",
              field,
              url,
              u.getHost(),
              a.getHostAddress());
          throw refused(field);
        }
      }
      address = all[0];
    } catch (IOException e) {
      LOG.info("{}: URL {} refused: {} does not resolve", field, url, u.getHost());
      throw refused(field);
    }
    try {
      return get(u, target, address, until);
    } catch (IOException | RuntimeException e) {
      LOG.info("{}: URL {} not fetched: {}", field, url, e.toString());
      throw refused(field);
    }
  }

  /** The allow-list entry the URL falls under, or null. */
  private Prefix match(URI raw) {
    if (raw.getRawUserInfo() != null
        || raw.getHost() == null
        || raw.getScheme() == null
        || raw.getRawAuthority() == null
        || raw.getRawAuthority().contains("@")) {
      return null;
    }
    String rawPath =
        raw.getRawPath() == null || raw.getRawPath().isEmpty() ? "/" : raw.getRawPath();
    String lower = rawPath.toLowerCase(Locale.ROOT);
    if (lower.contains("%2e")
        || lower.contains("%2f")
        || lower.contains("%5c")
        || lower.contains("\\")
        || raw.normalize().getRawPath() != null && !raw.normalize().getRawPath().equals(rawPath)
        || rawPath.contains("/../")
        || rawPath.endsWith("/..")) {
      return null;
    }
    String scheme = raw.getScheme().toLowerCase(Locale.ROOT);
    String host = raw.getHost().toLowerCase(Locale.ROOT);
    int port = effectivePort(scheme, raw.getPort());
    for (Prefix p : allowList) {
      boolean pathOk =
          rawPath.startsWith(p.path())
              && (p.path().endsWith("/")
                  || rawPath.length() == p.path().length()
                  || rawPath.charAt(p.path().length()) == '/');
      if (p.scheme().equals(scheme) && p.host().equals(host) && p.port() == port && pathOk) {
        return p;
      }
    }
    return null;
  }

  /**
   * Whether an address is on the public internet (not loopback, private, link-local, multicast,
   * CGNAT, ULA, ...).
   */
  static boolean isPublic(InetAddress a) {
    if (a.isAnyLocalAddress()
        || a.isLoopbackAddress()
        || a.isLinkLocalAddress()
        || a.isSiteLocalAddress()
        || a.isMulticastAddress()) {
      return false;
    }
    byte[] b = a.getAddress();
    if (a instanceof Inet4Address) {
      int b0 = b[0] & 0xff;
      int b1 = b[1] & 0xff;
      return !(b0 == 0
          || b0 >= 240
          || b0 == 100 && (b1 & 0xc0) == 64
          || b0 == 192 && b1 == 0 && (b[2] & 0xff) == 0
          || b0 == 198 && (b1 == 18 || b1 == 19));
    }
    if (a instanceof Inet6Address) {
      int b0 = b[0] & 0xff;
      boolean mapped = true; // ::ffff:a.b.c.d and ::a.b.c.d: judge the IPv4 address inside
      for (int i = 0; i < 10; i++) {
        mapped &= b[i] == 0;
      }
      if (mapped && (b[10] == (byte) 0xff && b[11] == (byte) 0xff || b[10] == 0 && b[11] == 0)) {
        try {
          return isPublic(InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]}));
        } catch (IOException e) {
          return false;
        }
      }
      return (b0 & 0xfe) != 0xfc; // fc00::/7 unique local
    }
    return false;
  }

  private byte[] get(URI u, Prefix target, InetAddress address, long until) throws IOException {
    try (Socket plain = new Socket()) {
      plain.connect(new InetSocketAddress(address, target.port()), remainingMillis(until));
      Socket s = plain;
      if (target.scheme().equals("https")) {
        SSLSocket ssl =
            (SSLSocket)
                ((SSLSocketFactory) SSLSocketFactory.getDefault())
                    .createSocket(plain, u.getHost(), target.port(), true);
        SSLParameters params = ssl.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        if (!u.getHost().matches("[0-9.]+|\\[.*\\]|.*:.*")) {
          params.setServerNames(List.of(new SNIHostName(IDN.toASCII(u.getHost()))));
        }
        ssl.setSSLParameters(params);
        ssl.setSoTimeout(remainingMillis(until));
        ssl.startHandshake();
        s = ssl;
      }
      String pathAndQuery =
          (u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath())
              + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery());
      String hostHeader = u.getPort() == -1 ? u.getHost() : u.getHost() + ":" + u.getPort();
      OutputStream out = s.getOutputStream();
      out.write(
          ("GET "
                  + pathAndQuery
                  + " HTTP/1.0\r\nHost: "
                  + hostHeader
                  + "\r\nUser-Agent: perfusion-worker\r\nAccept: image/png, image/jpeg\r\n"
                  + "Connection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = new BufferedInputStream(s.getInputStream());
      String head = readHead(s, in, until);
      String[] lines = head.split("\r\n");
      String[] status = lines[0].split(" ", 3);
      if (status.length < 2 || !status[0].startsWith("HTTP/1.") || !status[1].equals("200")) {
        throw new IOException("status line '" + lines[0] + "'");
      }
      long declared = -1;
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        if (colon <= 0) {
          continue;
        }
        String name = lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT);
        String value = lines[i].substring(colon + 1).strip();
        if (name.equals("content-length")) {
          declared = Long.parseLong(value);
        } else if (name.equals("transfer-encoding") && !value.equalsIgnoreCase("identity")) {
          throw new IOException("transfer-encoding " + value + " in an HTTP/1.0 answer");
        }
      }
      if (declared > maxBytes) {
        throw new IOException("Content-Length " + declared + " is over " + maxBytes);
      }
      ByteArrayOutputStream body =
          new ByteArrayOutputStream((int) Math.max(0, Math.min(declared, maxBytes)));
      byte[] buf = new byte[16 * 1024];
      while (declared < 0 || body.size() < declared) {
        s.setSoTimeout(remainingMillis(until));
        int n = in.read(buf);
        if (n < 0) {
          break;
        }
        if (body.size() + n > maxBytes) {
          throw new IOException("body over " + maxBytes + " bytes");
        }
        body.write(buf, 0, n);
      }
      if (declared >= 0 && body.size() < declared) {
        throw new IOException("body ended after " + body.size() + " of " + declared + " bytes");
      }
      return body.toByteArray();
    }
  }

  private static String readHead(Socket s, InputStream in, long until) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      s.setSoTimeout(remainingMillis(until));
      int c = in.read();
      if (c < 0) {
        throw new IOException("connection closed in the headers");
      }
      head.write(c);
      if (head.size() > MAX_HEADER_BYTES) {
        throw new IOException("headers over " + MAX_HEADER_BYTES + " bytes");
      }
      matched =
          (c == '\r' && (matched == 0 || matched == 2))
                  || (c == '\n' && (matched == 1 || matched == 3))
              ? matched + 1
              : (c == '\r' ? 1 : 0);
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  /**
   * Milliseconds left before the deadline, at least 1 (a socket timeout of 0 would mean forever);
   * throws when none are left.
   */
  private static int remainingMillis(long until) throws SocketTimeoutException {
    long left = (until - System.nanoTime()) / 1_000_000;
    if (left <= 0) {
      throw new SocketTimeoutException("fetch deadline passed");
    }
    return (int) Math.min(Integer.MAX_VALUE, left);
  }
}
