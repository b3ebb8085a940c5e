package org.perfusionjobs.cli;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The project's modules as the command line sees them all (it depends on every one but the
 * infrastructure): no cycle between the top-level packages, libraries that know no application, and
 * no service framework below the services. The engine's own layering, and a proof that such rules
 * fail on a violation, are in the engine's ArchitectureTest.
 */
class ModuleArchitectureTest {
  static final String[] LIBRARIES = {
    "org.perfusionjobs.engine..",
    "org.perfusionjobs.basemodel..",
    "org.perfusionjobs.world..",
    "org.perfusionjobs.evaluator..",
    "org.perfusionjobs.contracts.."
  };
  static final String[] APPLICATIONS = {
    "org.perfusionjobs.cli..", "org.perfusionjobs.worker..", "org.perfusionjobs.gateway.."
  };
  static JavaClasses project;

  @BeforeAll
  static void importProject() {
    project =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.perfusionjobs");
    for (String c :
        new String[] {
          "org.perfusionjobs.engine.pipeline.StableDiffusionPipeline",
          "org.perfusionjobs.basemodel.BaseModelBuilder",
          "org.perfusionjobs.worker.WorkerVerticle",
          "org.perfusionjobs.cli.PerfusionCli"
        }) {
      assertTrue(project.contain(c), c + " must be imported");
    }
  }

  @Test
  void topLevelPackagesHaveNoCycle() {
    slices().matching("org.perfusionjobs.(*)..").should().beFreeOfCycles().check(project);
  }

  @Test
  void librariesKnowNoApplication() {
    noClasses()
        .that()
        .resideInAnyPackage(LIBRARIES)
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(APPLICATIONS)
        .check(project);
  }

  @Test
  void modelLibrariesUseNoServiceFramework() {
    noClasses()
        .that()
        .resideInAnyPackage(
            "org.perfusionjobs.engine..",
            "org.perfusionjobs.basemodel..",
            "org.perfusionjobs.world..",
            "org.perfusionjobs.evaluator..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.vertx..", "org.apache.kafka..", "io.lettuce..", "picocli..")
        .check(project);
  }
}
