package org.perfusionjobs.engine.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.ModelLoadException;

/**
 * A Stable Diffusion v1.x folder in the diffusers layout: {@code model_index.json} and the {@code
 * text_encoder/ tokenizer/ unet/ vae/ scheduler/} components. {@link #open} checks the layout up
 * front and names everything that is missing, so a wrong path fails before any weight is read.
 */
public record ModelFolder(Path root, String pipelineClass) {
  private static final List<String> COMPONENTS =
      List.of("text_encoder", "tokenizer", "unet", "vae", "scheduler");

  public static ModelFolder open(Path root) throws ModelLoadException {
    if (!Files.isDirectory(root)) {
      throw new ModelLoadException(
          "model folder " + root + " does not exist or is not a directory");
    }
    Path index = root.resolve("model_index.json");
    if (!Files.isRegularFile(index)) {
      throw new ModelLoadException(
          "model folder "
              + root
              + " has no model_index.json: expected a diffusers Stable Diffusion folder");
    }
    JsonNode json;
    try {
      json = Configs.json().readTree(index.toFile());
    } catch (IOException e) {
      throw new ModelLoadException(
          "model_index.json in " + root + " is not valid JSON: " + e.getMessage(), e);
    }
    List<String> problems = new ArrayList<>();
    for (String c : COMPONENTS) {
      Path dir = root.resolve(c);
      if (!Files.isDirectory(dir)) {
        problems.add(c + "/ is missing");
      } else if (c.equals("tokenizer")) {
        for (String f : List.of("vocab.json", "merges.txt")) {
          if (!Files.isRegularFile(dir.resolve(f))) {
            problems.add("tokenizer/" + f + " is missing");
          }
        }
      } else if (c.equals("scheduler")) {
        if (!Files.isRegularFile(dir.resolve("scheduler_config.json"))) {
          problems.add("scheduler/scheduler_config.json is missing");
        }
      } else if (!Files.isRegularFile(dir.resolve("config.json"))) {
        problems.add(c + "/config.json is missing");
      }
    }
    if (!problems.isEmpty()) {
      throw new ModelLoadException(
          "model folder " + root + " is incomplete: " + String.join("; ", problems));
    }
    return new ModelFolder(root, json.path("_class_name").asText("StableDiffusionPipeline"));
  }

  public Path textEncoder() {
    return root.resolve("text_encoder");
  }

  public Path tokenizer() {
    return root.resolve("tokenizer");
  }

  public Path unet() {
    return root.resolve("unet");
  }

  public Path vae() {
    return root.resolve("vae");
  }

  public Path schedulerConfig() {
    return root.resolve("scheduler").resolve("scheduler_config.json");
  }
}
