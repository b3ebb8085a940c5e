package org.perfusionjobs.cli;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.perfusionjobs.engine.image.ImageCodec;
import org.perfusionjobs.engine.perfusion.Covariance;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.personalization.Personalization;
import org.perfusionjobs.engine.pipeline.EngineOptions;
import org.perfusionjobs.engine.pipeline.GenerateRequest;
import org.perfusionjobs.engine.pipeline.GenerateResult;
import org.perfusionjobs.engine.pipeline.InitialLatents;
import org.perfusionjobs.engine.pipeline.StableDiffusionPipeline;
import org.perfusionjobs.engine.scheduler.SamplerKind;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code perfusion generate}: text to PNG with any diffusers SD v1.x folder. */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = "Generate images from a prompt.")
final class GenerateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      required = true,
      description = "diffusers Stable Diffusion v1.x folder")
  Path model;

  @Option(names = "--prompt", required = true, description = "what to draw")
  String prompt;

  @Option(
      names = "--negative-prompt",
      defaultValue = "",
      description = "what to steer away from (default: none)")
  String negativePrompt;

  @Option(
      names = "--steps",
      defaultValue = "25",
      description = "denoising steps (default: ${DEFAULT-VALUE})")
  int steps;

  @Option(
      names = "--guidance",
      defaultValue = "7.5",
      description = "classifier-free guidance scale; <= 1 turns it off (default: ${DEFAULT-VALUE})")
  float guidance;

  @Option(
      names = "--seed",
      defaultValue = "0",
      description = "noise seed; the same seed gives the same image (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(
      names = "--width",
      defaultValue = "0",
      description = "image width; default: what the checkpoint implies")
  int width;

  @Option(
      names = "--height",
      defaultValue = "0",
      description = "image height; default: what the checkpoint implies")
  int height;

  @Option(
      names = "--batch",
      defaultValue = "1",
      description = "images per run (default: ${DEFAULT-VALUE})")
  int batch;

  @Option(
      names = "--sampler",
      defaultValue = "ddim",
      description = "ddim, euler_a or dpmpp_2m (default: ${DEFAULT-VALUE})")
  String sampler;

  @Option(
      names = "--eta",
      defaultValue = "0",
      description = "DDIM eta: 0 deterministic, 1 fully stochastic (default: ${DEFAULT-VALUE})")
  float eta;

  @Option(
      names = "--latents",
      description = "safetensors file with one initial-noise tensor [batch, 4, h/8, w/8]")
  Path latents;

  @Option(
      names = "--precision",
      defaultValue = "fp32",
      description = "fp32 (CPU or GPU) or fp16 (GPU) (default: ${DEFAULT-VALUE})")
  String precision;

  @Option(
      names = "--device",
      defaultValue = "cpu",
      description = "cpu, gpu or gpu:N (default: ${DEFAULT-VALUE})")
  String device;

  @Option(
      names = "--concept",
      description =
          "concept file of any method (its metadata says which): Perfusion FILE[:beta:tau],"
              + " repeatable; textual-inversion, custom-diffusion, lora, dreambooth: one FILE")
  List<String> concepts = new java.util.ArrayList<>();

  @Option(
      names = "--scale",
      description = "lora concept: strength of its low-rank terms, 0 = the base model (default: 1)")
  Float scale;

  @Option(
      names = "--global-lock",
      description =
          "global key-locking: the K path sees each concept word replaced by its superclass (use a"
              + " lower beta, ~0.4-0.6)")
  boolean globalLock;

  @Option(
      names = "--covariance",
      description = "Cinv file (default: <model>/perfusion_covariance.safetensors)")
  Path covariance;

  @Option(
      names = "--out",
      defaultValue = "out.png",
      description =
          "output PNG; with --batch > 1, name_0.png, name_1.png, ... (default: ${DEFAULT-VALUE})")
  Path out;

  @Override
  public Integer call() throws Exception {
    EngineOptions options = EngineOptions.parse(precision, device);
    SamplerKind kind = SamplerKind.fromName(sampler);
    var err = spec.commandLine().getErr();
    // Concept files are checked before the model loads, so a wrong path fails at once.
    List<Personalization.Spec> specs = new java.util.ArrayList<>();
    for (String c : concepts) {
      Personalization.Spec parsed = Personalization.Spec.parse(c);
      CliErrors.requireFile(
          "--concept",
          parsed.file(),
          "train one with `perfusion train --out FILE`, or fix the path");
      specs.add(parsed);
    }
    Personalization.Concepts chosen = Personalization.read(specs, globalLock, scale);
    long t0 = System.nanoTime();
    try (StableDiffusionPipeline pipeline = StableDiffusionPipeline.load(model, options)) {
      err.printf("loaded %s in %.1f s%n", model, (System.nanoTime() - t0) / 1e9);
      ProgressBar bar = new ProgressBar(err, "generate");
      GenerateRequest.Builder req =
          GenerateRequest.builder(prompt)
              .optNegativePrompt(negativePrompt)
              .optSteps(steps)
              .optGuidanceScale(guidance)
              .optSeed(seed)
              .optSize(width, height)
              .optBatchSize(batch)
              .optSampler(kind)
              .optEta(eta)
              .optOnStep(p -> bar.update(p.step(), p.total(), p.elapsed(), p.eta(), null));
      if (covariance != null) {
        PerfusionModel.of(pipeline).setCovariance(Covariance.load(covariance));
      }
      req.optConditioner(chosen.conditioner(pipeline));
      if (latents != null) {
        req.optLatents(InitialLatents.read(latents));
      }
      GenerateResult result = pipeline.generate(req.build());
      List<Path> written = write(result.images());
      err.printf(
          "%dx%d in %.2f s (text %.2f s, denoise %.2f s, decode %.2f s)%n",
          result.width(),
          result.height(),
          result.total().toMillis() / 1000.0,
          result.textEncoding().toMillis() / 1000.0,
          result.denoising().toMillis() / 1000.0,
          result.decoding().toMillis() / 1000.0);
      written.forEach(p -> spec.commandLine().getOut().println(p));
    }
    return 0;
  }

  private List<Path> write(List<BufferedImage> images) throws java.io.IOException {
    if (images.size() == 1) {
      ImageCodec.writePng(images.get(0), out);
      return List.of(out);
    }
    String name = out.getFileName().toString();
    String stem = name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
    List<Path> paths = new ArrayList<>();
    for (int i = 0; i < images.size(); i++) {
      Path p = out.resolveSibling(stem + "_" + i + ".png");
      ImageCodec.writePng(images.get(i), p);
      paths.add(p);
    }
    return paths;
  }
}
