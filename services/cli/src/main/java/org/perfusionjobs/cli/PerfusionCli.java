package org.perfusionjobs.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code perfusion} command line: one subcommand per task. */
@Command(
    name = "perfusion",
    mixinStandardHelpOptions = true,
    version = "perfusion 0.1.0",
    description = "Stable Diffusion v1.x and Perfusion personalisation on the JVM.",
    subcommands = {
      DemoCommand.class,
      GenerateCommand.class,
      TrainCommand.class,
      TrainBaseCommand.class,
      TrainEvaluatorCommand.class,
      EvalCommand.class,
      ConceptImagesCommand.class,
      ConceptGatesCommand.class,
      TextRelianceCommand.class,
      TextContrastCommand.class,
      TuneVaeDecoderCommand.class,
      VaeCheckCommand.class,
      CovarianceCommand.class,
      ProduceCommand.class,
      BenchCommand.class,
      BenchJobsCommand.class,
      BenchPerfusionCommand.class,
      BenchTrainCommand.class,
      BenchMemoryCommand.class,
      BenchGemmCommand.class,
      BenchPersonalizationCommand.class,
      BenchBatchCommand.class,
      SoakCommand.class
    })
public final class PerfusionCli {

  public static void main(String[] args) {
    // Belt and braces beside DJL_OFFLINE: DJL must never reach the network (it probes a cloud
    // metadata address).
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    System.exit(run(args));
  }

  /** Runs a command line and returns its exit code (0 ok, 1 runtime failure, 2 usage error). */
  public static int run(String... args) {
    CommandLine cli = new CommandLine(new PerfusionCli());
    cli.setOut(new PrintWriter(System.out, true));
    cli.setErr(new PrintWriter(System.err, true));
    cli.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          cmd.getErr().println("error: " + CliErrors.describe(ex));
          if (System.getenv("PERFUSION_DEBUG") != null) {
            ex.printStackTrace(cmd.getErr()); // for bug reports; users get the one line above
          }
          return 1;
        });
    return cli.execute(args);
  }
}
