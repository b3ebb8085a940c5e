package org.perfusionjobs.engine.attention;

import java.util.Locale;
import org.perfusionjobs.engine.nn.Module;

/**
 * How attention's score matrix (B, H, N, T) is computed and how much of it may exist at once. By
 * default ({@link #AUTO}) libtorch's fused kernel ({@link FusedAttention}) computes it tile by
 * tile, so it never exists whole. On the math path (matrix products and a softmax, or where the
 * fused kernel is missing) attention whose scores would exceed {@link #maxScoreBytes} runs over
 * chunks of queries, each a softmax over all T keys of its rows, so the result is the full
 * computation's (rows are independent; only the GEMM blocking may differ, at fp32 rounding). SD
 * v1.5 at 512 px has N = T = 4,096 in its first blocks: 1 GiB of scores per self-attention at batch
 * 2, and as much again for the probabilities; at 64 MiB they run in 16 chunks of 256 queries.
 *
 * @param maxScoreBytes largest score chunk in bytes on the math path; {@code Long.MAX_VALUE} for
 *     never slicing
 * @param fused whether the fused kernel runs where it is available
 */
public record AttentionSlicing(long maxScoreBytes, boolean fused) {
  /** The math path's budget under {@link #AUTO}: 64 MiB of scores per chunk. */
  public static final long AUTO_BYTES = 64L << 20;

  /** The fused kernel; where it is missing, the math path sliced at 64 MiB. */
  public static final AttentionSlicing AUTO = new AttentionSlicing(AUTO_BYTES, true);

  /** The math path, never sliced (the whole score matrix at once). */
  public static final AttentionSlicing NONE = new AttentionSlicing(Long.MAX_VALUE, false);

  /** The math path with this budget per chunk of scores. */
  public AttentionSlicing(long maxScoreBytes) {
    this(maxScoreBytes, false);
  }

  public AttentionSlicing {
    if (maxScoreBytes <= 0) {
      throw new IllegalArgumentException(
          "attention slice budget must be > 0 bytes, got " + maxScoreBytes);
    }
  }

  /** Whether this call runs the fused kernel: asked for and loaded in this process. */
  public boolean usesFusedKernel() {
    return fused && FusedAttention.available();
  }

  /**
   * "auto" (or "fused"), "none" or a math-path budget such as "32MiB", "512KiB", "1GiB" or plain
   * bytes.
   */
  public static AttentionSlicing parse(String s) {
    String v = s.strip().toLowerCase(Locale.ROOT);
    switch (v) {
      case "auto":
      case "fused":
        return AUTO;
      case "none":
      case "off":
        return NONE;
      default:
        long unit = 1;
        if (v.endsWith("gib")) {
          unit = 1L << 30;
        } else if (v.endsWith("mib")) {
          unit = 1L << 20;
        } else if (v.endsWith("kib")) {
          unit = 1L << 10;
        }
        String digits = unit == 1 ? v : v.substring(0, v.length() - 3);
        try {
          return new AttentionSlicing(Long.parseLong(digits.strip()) * unit);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(
              "attention slicing '" + s + "' is not auto (fused), none or a size such as 64MiB");
        }
    }
  }

  /**
   * Queries per chunk for scores of {@code batchHeads} x {@code queries} x {@code keys} elements of
   * {@code elementBytes} bytes: all of them when they fit, else as many rows as fit (at least one).
   */
  public long queryChunk(long batchHeads, long queries, long keys, int elementBytes) {
    long rowBytes = batchHeads * keys * elementBytes;
    if (maxScoreBytes == Long.MAX_VALUE || rowBytes * queries <= maxScoreBytes) {
      return queries;
    }
    return Math.max(1, maxScoreBytes / rowBytes);
  }

  /** A layer whose attention can be sliced. */
  public interface Settable {
    void setAttentionSlicing(AttentionSlicing slicing);
  }

  /** Sets this slicing on every attention layer of a model. Returns the number of layers set. */
  public int applyTo(Module root) {
    int[] n = {0};
    root.visit(
        (path, m) -> {
          if (m instanceof Settable s) {
            s.setAttentionSlicing(this);
            n[0]++;
          }
        });
    return n[0];
  }

  @Override
  public String toString() {
    if (fused) {
      return "auto";
    }
    return maxScoreBytes == Long.MAX_VALUE
        ? "none"
        : maxScoreBytes % (1L << 20) == 0 ? (maxScoreBytes >> 20) + "MiB" : maxScoreBytes + "B";
  }
}
