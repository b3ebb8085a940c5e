package org.perfusionjobs.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.perfusionjobs.contracts.JobEvent;

/**
 * Issue 19, jobs far longer than the record lock: three jobs on two and on three workers, each
 * living on many renewals (lock 15 s, renewal every 2 s). Each job succeeds exactly once, none is
 * lost, none runs on two workers (one {@code running}, every event from one worker, consecutive
 * seqs of one epoch: a second run or a second worker would open another epoch or repeat seqs).
 *
 * <p>The job length is {@code -Dperfusion.test.longJobSeconds} (default 20 s in the default suite;
 * on a loaded machine the engine's share of a step makes them longer); the minutes-long run of
 * docs/benchmarks.md is {@code nice -n 10 mvn -B -ntp -pl services/worker -am test
 * -Dtest=LongJobsTest -Dsurefire.failIfNoSpecifiedTests=false -Dperfusion.test.longJobSeconds=70}.
 */
class LongJobsTest {
  static final int STEPS = 100;
  Cluster cluster;

  @AfterEach
  void close() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  @ParameterizedTest(name = "{0} workers")
  @ValueSource(ints = {2, 3})
  void longJobsSucceedExactlyOnceAndRunOnOneWorkerEach(int workers) throws Exception {
    int seconds = Integer.getInteger("perfusion.test.longJobSeconds", 20);
    cluster = new Cluster("long" + workers + ".");
    for (int i = 1; i <= workers; i++) {
      cluster.start("w" + i, UnaryOperator.identity());
    }
    // The step delay makes a 100-step job on the tiny model last about `seconds` without burning
    // CPU.
    System.setProperty("perfusion.worker.testStepDelayMs", Long.toString(seconds * 1000L / STEPS));
    List<String> jobs = List.of("job-1", "job-2", "job-3");
    long t0 = System.nanoTime();
    for (String j : jobs) {
      cluster.generate(j, STEPS);
    }
    Duration wait = Duration.ofSeconds(seconds * 4L + 120);
    List<Double> runSeconds = new ArrayList<>();
    for (String j : jobs) {
      JobEvent end = cluster.events.awaitTerminal(j, wait);
      assertEquals(
          JobEvent.SUCCEEDED, end.state(), j + ": " + Cluster.brief(cluster.events.events(j)));
      List<JobEvent> all = cluster.events.events(j);
      runSeconds.add(
          (java.time.Instant.parse(end.time()).toEpochMilli()
                  - java.time.Instant.parse(all.get(0).time()).toEpochMilli())
              / 1000.0);
    }
    double total = (System.nanoTime() - t0) / 1e9;
    Thread.sleep(
        Cluster.LOCK_MS
            + 3000); // a record whose lock was not really renewed or acknowledged would come back
    for (String j : jobs) {
      cluster.assertRanOnceAndLostNothing(j);
    }
    System.out.printf(
        "%d jobs of %d steps on %d workers: each ran %s s (%d+ renewals each), all done in %.1f"
            + " s%n",
        jobs.size(),
        STEPS,
        workers,
        runSeconds,
        (int) (runSeconds.stream().mapToDouble(Double::doubleValue).min().orElse(0) / 2),
        total);
  }
}
