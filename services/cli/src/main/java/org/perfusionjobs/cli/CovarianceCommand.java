package org.perfusionjobs.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.perfusion.Covariance;
import org.perfusionjobs.engine.perfusion.CovarianceBuilder;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code perfusion covariance}: Cinv of a model's text encoder from a caption file. */
@Command(
    name = "covariance",
    mixinStandardHelpOptions = true,
    description =
        "Compute the Perfusion covariance (Cinv) of a base model's text encoder from captions, one"
            + " per line.")
final class CovarianceCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, description = "diffusers folder")
  Path model;

  @Option(
      names = "--captions",
      required = true,
      description = "caption file, one caption per line ('#' comments)")
  Path captions;

  @Option(
      names = "--out",
      description =
          "output file (default: <model>/"
              + Covariance.FILE_NAME
              + ", where train and generate look)")
  Path out;

  @Option(
      names = "--include-padding",
      description = "count padding tokens too (default: only tokens up to the end token)")
  boolean includePadding;

  @Override
  public Integer call() throws Exception {
    var err = spec.commandLine().getErr();
    List<String> lines = CovarianceBuilder.readCaptions(captions);
    try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(model, EngineOptions.cpu())) {
      ProgressBar bar = new ProgressBar(err, "covariance");
      long t0 = System.nanoTime();
      Covariance cov =
          CovarianceBuilder.compute(
              sd,
              lines,
              includePadding,
              captions.getFileName().toString(),
              done -> {
                Duration el = Duration.ofNanos(System.nanoTime() - t0);
                bar.update(
                    done,
                    lines.size(),
                    el,
                    el.dividedBy(done).multipliedBy(lines.size() - done),
                    null);
              });
      Path target = out != null ? out : model.resolve(Covariance.FILE_NAME);
      cov.save(target);
      err.printf(
          "%d captions, %s token encodings -> %s%n",
          lines.size(), cov.metadata().get("tokens"), target);
      spec.commandLine().getOut().println("cinv sha256 " + cov.hash());
    }
    return 0;
  }
}
