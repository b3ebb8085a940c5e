package org.perfusionjobs.engine.pipeline;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import java.util.Locale;
import java.util.Objects;
import org.perfusionjobs.engine.attention.AttentionSlicing;

/**
 * Where and in which precision the model runs. fp32 on CPU is the default; fp16 is for GPUs (most
 * CPU kernels have no half-precision path). Checkpoints in either precision load into either.
 *
 * @param attentionSlicing how attention's scores are computed (default {@link
 *     AttentionSlicing#AUTO}: libtorch's fused kernel, which never holds the whole score matrix; a
 *     size such as 64 MiB: matrix products with queries in chunks when the scores exceed it; all
 *     equal within fp32 rounding)
 */
public record EngineOptions(DataType dtype, Device device, AttentionSlicing attentionSlicing) {

  public EngineOptions(DataType dtype, Device device) {
    this(dtype, device, AttentionSlicing.AUTO);
  }

  public EngineOptions {
    Objects.requireNonNull(attentionSlicing, "attentionSlicing");
    if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16) {
      throw new IllegalArgumentException("precision " + dtype + " is not supported (fp32, fp16)");
    }
    if (dtype == DataType.FLOAT16 && !device.isGpu()) {
      throw new IllegalArgumentException(
          "precision fp16 needs a GPU device, got " + device + "; use fp32 on CPU");
    }
  }

  /** These options with another attention slicing, e.g. {@code AttentionSlicing.parse("32MiB")}. */
  public EngineOptions withAttentionSlicing(AttentionSlicing slicing) {
    return new EngineOptions(dtype, device, slicing);
  }

  public static EngineOptions cpu() {
    return new EngineOptions(DataType.FLOAT32, Device.cpu());
  }

  /** From config strings: precision "fp32" | "fp16", device "cpu" | "gpu" | "gpu:N". */
  public static EngineOptions parse(String precision, String device) {
    DataType dtype =
        switch (precision.toLowerCase(Locale.ROOT)) {
          case "fp32", "float32" -> DataType.FLOAT32;
          case "fp16", "float16" -> DataType.FLOAT16;
          default ->
              throw new IllegalArgumentException(
                  "precision '" + precision + "' is not one of fp32, fp16");
        };
    Device dev;
    String d = device.toLowerCase(Locale.ROOT);
    if (d.equals("cpu")) {
      dev = Device.cpu();
    } else if (d.equals("gpu")) {
      dev = Device.gpu(0);
    } else if (d.matches("gpu:\\d+")) {
      dev = Device.gpu(Integer.parseInt(d.substring(4)));
    } else {
      throw new IllegalArgumentException("device '" + device + "' is not one of cpu, gpu, gpu:N");
    }
    if (dev.isGpu()) {
      requireGpu(device, dev.getDeviceId());
    }
    return new EngineOptions(dtype, dev);
  }

  /** A missing GPU fails here in one line, not later as a page of native libtorch errors. */
  private static void requireGpu(String device, int index) {
    int count = Engine.getEngine("PyTorch").getGpuCount();
    if (index >= count) {
      throw new IllegalArgumentException(
          "device '"
              + device
              + "': libtorch sees "
              + count
              + " usable GPU(s) here (the default build bundles the CPU libtorch; see"
              + " docs/engine.md for the CUDA one); use cpu");
    }
  }
}
