package org.perfusionjobs.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.perfusionjobs.evaluator.concepts.ConceptImages;
import org.perfusionjobs.evaluator.concepts.ConceptSpec;
import org.perfusionjobs.evaluator.prompts.DemoConcept;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code perfusion concept-images}: a concept's training images and exact masks, for any spec or
 * the demo concept.
 */
@Command(
    name = "concept-images",
    mixinStandardHelpOptions = true,
    description =
        "Render a concept's training images and masks: with --spec (e.g."
            + " shape=heart,colour=blue,pattern=dots) --count images in varied cells, sizes and"
            + " backgrounds; without it, the demo concept's five (a red striped star, learned as"
            + " 'zwx' with superclass 'star').")
final class ConceptImagesCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--out",
      required = true,
      description = "folder to write concept_<i>.png and concept_<i>_mask.png to")
  Path out;

  @Option(
      names = "--spec",
      description = "shape=..,colour=..[,pattern=plain|stripes|dots|checks|ring|halves]")
  String conceptSpec;

  @Option(
      names = "--count",
      description = "images to write, with --spec (default " + ConceptImages.DEFAULT_COUNT + ")")
  Integer count;

  @Option(
      names = "--seed",
      description = "seed of the cells, sizes, backgrounds and jitter, with --spec (default 0)")
  Long seed;

  @Override
  public Integer call() throws Exception {
    List<Path> written;
    if (conceptSpec == null) {
      if (count != null || seed != null) {
        throw new ParameterException(
            spec.commandLine(),
            "--count and --seed need --spec: the demo concept's five images are fixed");
      }
      written = DemoConcept.write(out);
    } else {
      ConceptSpec s = parse(conceptSpec);
      int n = count == null ? ConceptImages.DEFAULT_COUNT : count;
      if (n < 1) {
        throw new ParameterException(spec.commandLine(), "--count must be at least 1, not " + n);
      }
      written = ConceptImages.write(out, s, n, seed == null ? 0 : seed);
    }
    written.forEach(p -> spec.commandLine().getOut().println(p));
    return 0;
  }

  private ConceptSpec parse(String text) {
    try {
      return ConceptSpec.parse(text);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--spec " + e.getMessage());
    }
  }
}
