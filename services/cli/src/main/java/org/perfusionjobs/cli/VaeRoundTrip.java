package org.perfusionjobs.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.vae.AutoencoderKL;
import org.perfusionjobs.world.Sample;

/**
 * World samples whose images went through a VAE (posterior mean, decode), for the evaluator to
 * learn how that decoder draws.
 */
final class VaeRoundTrip {
  private static final int BATCH = 32;

  private VaeRoundTrip() {}

  static List<Sample> apply(Path vaeDir, List<Sample> samples) throws IOException {
    List<Sample> out = new ArrayList<>(samples.size());
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      AutoencoderKL vae = AutoencoderKL.load(vaeDir, m, DataType.FLOAT32, Device.cpu());
      for (int i = 0; i < samples.size(); i += BATCH) {
        List<Sample> part = samples.subList(i, Math.min(samples.size(), i + BATCH));
        try (NDScope scope = new NDScope()) {
          scope.suppressNotUsedWarning();
          NDArray x = ImageCodec.toTensor(part.stream().map(Sample::image).toList(), m);
          List<BufferedImage> imgs = ImageCodec.toImages(vae.decode(vae.encode(x).mean()));
          for (int k = 0; k < part.size(); k++) {
            Sample s = part.get(k);
            out.add(new Sample(s.seed(), s.scene(), imgs.get(k), s.masks(), s.caption()));
          }
        }
      }
    }
    return out;
  }
}
