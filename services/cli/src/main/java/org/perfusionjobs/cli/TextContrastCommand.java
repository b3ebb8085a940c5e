package org.perfusionjobs.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.perfusionjobs.basemodel.TextContrast;
import org.perfusionjobs.engine.clip.ClipTextModel;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion text-contrast}: per attribute, how far a model's text encoder output moves when
 * one word of that attribute changes ({@link TextContrast}); several models side by side.
 */
@Command(
    name = "text-contrast",
    mixinStandardHelpOptions = true,
    description =
        "How far the text encoder's output moves when one word changes, per attribute (column, row,"
            + " colour, shape, size, background).")
final class TextContrastCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      required = true,
      split = ",",
      description = "model folder(s), comma-separated")
  List<Path> models;

  @Override
  public Integer call() throws Exception {
    var out = spec.commandLine().getOut();
    List<Map<String, Double>> rows = new ArrayList<>();
    for (Path model : models) {
      try (NDManager m = NDManager.newBaseManager();
          ClipTokenizer tok = ClipTokenizer.load(model.resolve("tokenizer"))) {
        ClipTextModel te =
            ClipTextModel.load(model.resolve("text_encoder"), m, DataType.FLOAT32, Device.cpu());
        rows.add(TextContrast.measure(te, tok, m));
      }
    }
    out.printf("%-12s", "attribute");
    for (int i = 0; i < models.size(); i++) {
      out.printf(" %10s", "model " + (i + 1));
    }
    out.printf("%n");
    for (String attribute : rows.get(0).keySet()) {
      out.printf("%-12s", attribute);
      for (Map<String, Double> r : rows) {
        out.printf(" %10.3f", r.get(attribute));
      }
      out.printf("%n");
    }
    for (int i = 0; i < models.size(); i++) {
      out.printf("model %d: %s%n", i + 1, models.get(i));
    }
    return 0;
  }
}
