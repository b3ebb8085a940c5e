package org.perfusionjobs.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.perfusionjobs.engine.io.ModelLoadException;
import org.perfusionjobs.engine.io.SafetensorsFile;

/**
 * Caller-supplied starting noise x_T, like diffusers' {@code latents=}: with it, a run can be
 * reproduced exactly across implementations. As in diffusers, they are multiplied by the sampler's
 * initial noise sigma (1 for DDIM, so DDIM uses them as given).
 */
public record InitialLatents(float[] data, long[] shape) {

  public InitialLatents {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    if (shape.length != 4 || n != data.length) {
      throw new IllegalArgumentException(
          "latents must be a 4-d tensor [batch, channels, h, w] with matching data; got shape "
              + Arrays.toString(shape)
              + " and "
              + data.length
              + " values");
    }
  }

  /** Reads the single tensor of a safetensors file. */
  public static InitialLatents read(Path file) throws IOException {
    try (SafetensorsFile f = SafetensorsFile.open(file);
        NDManager m = NDManager.newBaseManager()) {
      if (f.tensors().size() != 1) {
        throw new ModelLoadException(
            "latents file "
                + file
                + " must hold exactly one tensor, found "
                + f.tensors().keySet());
      }
      NDArray a = f.read(f.tensors().keySet().iterator().next(), m, DataType.FLOAT32);
      return new InitialLatents(a.toFloatArray(), a.getShape().getShape());
    }
  }

  public Shape toShape() {
    return new Shape(shape);
  }

  NDArray toArray(NDManager manager) {
    return manager.create(data, toShape());
  }
}
