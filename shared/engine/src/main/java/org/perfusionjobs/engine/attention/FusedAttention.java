package org.perfusionjobs.engine.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libtorch's fused {@code scaled_dot_product_attention}, reached through a one-op TorchScript
 * module because DJL 0.36 binds no native for it. On CPU it is PyTorch's flash-attention kernel: Q
 * K' and the softmax run tile by tile, so the (B, H, N, T) scores never exist whole (memory as
 * bounded as the sliced path) and the softmax costs no passes over memory of its own (the 512 px
 * SD-v1.5-sized UNet step 1.5x faster than with sliced matrix products; docs/benchmarks.md).
 *
 * <p>The module is TorchScript source, compiled by the libtorch that loads it, so it needs no
 * Python and no file on disk; it is built once per process. Where it cannot load (another engine, a
 * libtorch without the op) {@link #available()} is false and callers keep the math path.
 */
public final class FusedAttention {
  private static final Logger LOG = LoggerFactory.getLogger(FusedAttention.class);

  /** The module's code: diffusers' attention is SDPA with its default scale 1/sqrt(Dh). */
  private static final String CODE =
      """
      class FusedAttention(Module):
        __parameters__ = []
        __buffers__ = []
        training : bool
        def forward(self: __torch__.FusedAttention,
          q: Tensor,
          k: Tensor,
          v: Tensor) -> Tensor:
          return torch.scaled_dot_product_attention(q, k, v)
      """;

  /** data.pkl: pickle protocol 2 of {@code __torch__.FusedAttention(training=False)}. */
  private static final byte[] DATA =
      concat(
          new byte[] {(byte) 0x80, 2},
          ascii("c__torch__\nFusedAttention\n"),
          new byte[] {')', (byte) 0x81, '}', 'X', 8, 0, 0, 0},
          ascii("training"),
          new byte[] {(byte) 0x89, 's', 'b', '.'});

  /** constants.pkl: an empty tuple (the module has no constants). */
  private static final byte[] CONSTANTS = {(byte) 0x80, 2, ')', '.'};

  /** The archive's format version, one libtorch 2.x reads (the load's self-check proves it). */
  private static final String FORMAT_VERSION = "10\n";

  private FusedAttention() {}

  /** Whether the fused kernel is loaded and usable in this process. */
  public static boolean available() {
    return Holder.MODULE != null;
  }

  /**
   * softmax(Q K' / sqrt(Dh)) V for Q (B, H, N, Dh), K and V (B, H, T, Dh) → (B, H, N, Dh), in Q's
   * manager. Records the autograd graph when grad mode is on (training), as any op does.
   *
   * @throws IllegalStateException when {@link #available()} is false
   */
  public static NDArray apply(NDArray q, NDArray k, NDArray v) {
    PtSymbolBlock module = Holder.MODULE;
    if (module == null) {
      throw new IllegalStateException("the fused attention kernel is not available here");
    }
    NDList out = IValueUtils.forward(module, new NDList(q, k, v), JniUtils.isGradMode());
    return out.singletonOrThrow();
  }

  /** Loads on first use; a failure is logged once and leaves the math path in place. */
  private static final class Holder {
    static final PtSymbolBlock MODULE = load();

    private static PtSymbolBlock load() {
      try {
        // The module lives as long as the process; its manager is never closed.
        PtNDManager system = (PtNDManager) NDManager.newBaseManager("PyTorch");
        PtSymbolBlock block =
            JniUtils.loadModule(system, new ByteArrayInputStream(archive()), true, false);
        try (PtNDManager m = (PtNDManager) system.newSubManager()) {
          // Equal keys make the softmax uniform, so each output row is the mean of the values.
          NDArray q = m.arange(8f).reshape(1, 1, 2, 4);
          NDArray k = m.ones(new Shape(1, 1, 3, 4));
          NDArray v = m.arange(12f).reshape(1, 1, 3, 4);
          NDArray y = IValueUtils.forward(block, new NDList(q, k, v), false).singletonOrThrow();
          NDArray mean = v.mean(new int[] {2}, true).repeat(2, 2);
          if (!y.getShape().equals(q.getShape()) || y.sub(mean).abs().max().getFloat() > 1e-5f) {
            throw new IllegalStateException("fused attention's self-check failed: " + y);
          }
        }
        return block;
      } catch (IOException | RuntimeException | LinkageError e) {
        LOG.warn(
            "fused attention unavailable, attention runs as sliced matrix products: {}",
            e.toString());
        return null;
      }
    }
  }

  /** The TorchScript archive: a zip of stored (uncompressed) records under one folder. */
  static byte[] archive() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      stored(zip, "fused_attention/data.pkl", DATA);
      stored(zip, "fused_attention/code/__torch__.py", CODE.getBytes(StandardCharsets.UTF_8));
      stored(zip, "fused_attention/constants.pkl", CONSTANTS);
      stored(zip, "fused_attention/version", ascii(FORMAT_VERSION));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static void stored(ZipOutputStream zip, String name, byte[] content) throws IOException {
    ZipEntry e = new ZipEntry(name);
    e.setMethod(ZipEntry.STORED);
    e.setSize(content.length);
    CRC32 crc = new CRC32();
    crc.update(content);
    e.setCrc(crc.getValue());
    zip.putNextEntry(e);
    zip.write(content);
    zip.closeEntry();
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }
}
