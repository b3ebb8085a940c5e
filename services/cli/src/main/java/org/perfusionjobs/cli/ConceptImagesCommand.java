package org.perfusionjobs.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.perfusionjobs.evaluator.prompts.DemoConcept;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code perfusion concept-images}: the demo concept's five training images and masks. */
@Command(name = "concept-images", mixinStandardHelpOptions = true,
    description = "Render the demo concept (a red star with white stripes, learned as 'zwx' with superclass 'star'): 5 images and their masks.")
final class ConceptImagesCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--out", required = true, description = "folder to write concept_<i>.png and concept_<i>_mask.png to")
  Path out;

  @Override
  public Integer call() throws Exception {
    DemoConcept.write(out).forEach(p -> spec.commandLine().getOut().println(p));
    return 0;
  }
}
