package org.perfusionjobs.engine;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.archfixture.perfusion.FixtureConcept;
import org.perfusionjobs.engine.archfixture.pipeline.FixturePipeline;

/**
 * The engine's layering, checked on its compiled main classes in every build: the Stable Diffusion
 * core knows no personalization method (methods plug in through {@code pipeline.Conditioner}), no
 * package cycle, no service framework, no other project module. Each rule is a function of the root
 * package so that {@link #theRulesCatchACycleAndAWrongWayDependency} can run it on a fixture (test
 * classes under {@code archfixture}) that breaks it.
 */
class ArchitectureTest {
  static final String ROOT = "org.perfusionjobs.engine";

  /** Stable Diffusion and its training: nothing here may know a personalization method. */
  static final String[] CORE = {
    "nn",
    "attention",
    "blocks",
    "clip",
    "config",
    "unet",
    "vae",
    "scheduler",
    "io",
    "image",
    "pipeline",
    "train"
  };

  /** Personalization methods: they may use the core, never the other way round. */
  static final String[] METHODS = {"perfusion", "personalization"};

  static JavaClasses engine;

  @BeforeAll
  static void importEngine() {
    engine =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages(ROOT);
    assertTrue(
        engine.contain(ROOT + ".pipeline.StableDiffusionPipeline"),
        "the engine's main classes must be imported");
  }

  static ArchRule packagesFreeOfCycles(String root) {
    return slices().matching(root + ".(*)..").should().beFreeOfCycles();
  }

  static ArchRule coreKnowsNoMethod(String root) {
    return noClasses()
        .that()
        .resideInAnyPackage(packages(root, CORE))
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(packages(root, METHODS))
        .because("personalization methods plug into the core through pipeline.Conditioner");
  }

  private static String[] packages(String root, String[] names) {
    return Arrays.stream(names).map(n -> root + "." + n + "..").toArray(String[]::new);
  }

  @Test
  void enginePackagesHaveNoCycle() {
    packagesFreeOfCycles(ROOT).check(engine);
  }

  @Test
  void stableDiffusionCoreKnowsNoPersonalizationMethod() {
    coreKnowsNoMethod(ROOT).check(engine);
  }

  @Test
  void engineUsesNoServiceFramework() {
    noClasses()
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.vertx..", "org.apache.kafka..", "io.lettuce..", "picocli..")
        .because("the engine is a library: services wrap it, not the other way round")
        .check(engine);
  }

  @Test
  void engineDependsOnNoOtherProjectModule() {
    noClasses()
        .should()
        .dependOnClassesThat(
            resideInAPackage("org.perfusionjobs..").and(not(resideInAPackage(ROOT + ".."))))
        .check(engine);
  }

  /**
   * The rules above can fail: on a fixture with a core-to-method dependency and a cycle, both
   * report it.
   */
  @Test
  void theRulesCatchACycleAndAWrongWayDependency() {
    String root = ROOT + ".archfixture";
    JavaClasses fixture =
        new ClassFileImporter().importClasses(FixturePipeline.class, FixtureConcept.class);
    EvaluationResult cycles = packagesFreeOfCycles(root).evaluate(fixture);
    EvaluationResult wrongWay = coreKnowsNoMethod(root).evaluate(fixture);
    assertTrue(cycles.hasViolation(), "a pipeline <-> perfusion cycle must be reported");
    assertTrue(
        cycles.getFailureReport().toString().contains("Cycle detected"),
        cycles.getFailureReport().toString());
    assertTrue(wrongWay.hasViolation(), "pipeline -> perfusion must be reported");
    assertTrue(
        wrongWay.getFailureReport().toString().contains(FixturePipeline.class.getName()),
        wrongWay.getFailureReport().toString());
  }
}
