package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The softly locked key ({@code TrainingConfig.withKeyRate}, beyond the paper): K targets that
 * start at the locked W_k i_super and learn at a fraction of the V targets' rate. Expected values
 * come from AdamW's algebra, not from the trainer: one step's update is linear in the learning rate
 * (the gradient at the first step does not depend on the rate), and a bias-corrected Adam step
 * moves an element by at most about the learning rate in the first steps.
 */
class SoftlyLockedKeyTest {
  static PerfusionModel perfusion;
  static TrainingImages square;

  @BeforeAll
  static void loadTinyModel() throws Exception {
    perfusion = PerfusionModel.of(TinyModel.pipeline());
    square =
        new TrainingImages(
            TinyModel.images(4, Color.RED, false), TinyModel.images(4, Color.RED, true));
  }

  private static TrainingConfig quick(int steps, float keyRate) {
    return PerfusionAblationTest.quick(steps).withKeyRate(keyRate);
  }

  private static Concept train(TrainingConfig cfg, List<TrainerState> states) {
    return perfusion.trainer().train(square, cfg, null, p -> {}, states::add, () -> false);
  }

  /** Rate 0 is the paper's locked key: the same file, bit for bit, and nothing recorded. */
  @Test
  void rateZeroIsThePapersLockedKey() throws Exception {
    Concept paper = train(PerfusionAblationTest.quick(2), new ArrayList<>());
    Concept zero = train(quick(2, 0f), new ArrayList<>());
    assertArrayEquals(ConceptFile.toBytes(paper), ConceptFile.toBytes(zero));
    assertNull(zero.trainingSettings().get(TrainingConfig.KEY_RATE));
    assertFalse(TrainingConfig.defaults("zwx", "car").learnsKeys());
  }

  /**
   * After one step, K has moved by exactly R times what rate 1 moves it (AdamW's update, decay
   * included, is proportional to the rate when the gradient is the same, and at step 1 it is); V
   * and the embedding, whose step-1 gradients see only the starting K, are the same bits. Rate 1
   * trains exactly like the no-key-lock ablation. Tolerance 2e-6 relative to the K values (fp32
   * rounding of K0 + dK and of the subtraction).
   */
  @Test
  void oneStepMovesTheKeyByTheRateTimesTheFullMove() {
    List<TrainerState> locked = new ArrayList<>(); // its checkpoints keep the locked K
    train(PerfusionAblationTest.quick(2), locked);
    Concept full = train(quick(1, 1f), new ArrayList<>());
    Concept soft = train(quick(1, 0.1f), new ArrayList<>());
    Concept ablation =
        perfusion
            .trainer()
            .withAblation(PerfusionAblation.NO_KEY_LOCK)
            .train(square, PerfusionAblationTest.quick(1), null, p -> {}, s -> {}, () -> false);
    Map<String, float[]> start = locked.get(0).keyTargets();
    double largest = 0;
    for (String p : start.keySet()) {
      float[] k0 = start.get(p);
      float[] k1 = full.keyTargets().get(p);
      float[] kr = soft.keyTargets().get(p);
      for (int i = 0; i < k0.length; i++) {
        double fullMove = (double) k1[i] - k0[i];
        double tol = 2e-6 * Math.max(1, Math.abs(k0[i]));
        assertEquals(0.1 * fullMove, (double) kr[i] - k0[i], tol, p + "[" + i + "]");
        largest = Math.max(largest, Math.abs(fullMove));
      }
      assertArrayEquals(full.valueTargets().get(p), soft.valueTargets().get(p), p);
      assertArrayEquals(ablation.keyTargets().get(p), full.keyTargets().get(p), p);
      assertArrayEquals(ablation.valueTargets().get(p), full.valueTargets().get(p), p);
    }
    assertArrayEquals(full.embedding(), soft.embedding());
    // Adam's first step moves each element by the learning rate (0.03) where its gradient is not 0.
    assertTrue(largest > 0.02, "rate 1 must move K by about the learning rate, moved " + largest);
    assertEquals("0.1", soft.trainingSettings().get(TrainingConfig.KEY_RATE));
    assertEquals(PerfusionAblation.NONE, soft.ablation());
  }

  /**
   * Over three steps each K element moves by at most 3 lr R (1.01 + wd |K|): the bias-corrected
   * Adam ratio |m^|/sqrt(v^) is at most (1 - b1)/c1 sqrt(c2/(1 - b2)) sqrt(sum_k (b1^2/b2)^k) =
   * 1.003 at step 3 (Cauchy-Schwarz over the gradients so far), plus the decay term. It moves at
   * all, and less than at rate 1.
   */
  @Test
  void threeStepsStayWithinAdamsBound() {
    List<TrainerState> locked = new ArrayList<>(); // its checkpoints keep the locked K
    train(PerfusionAblationTest.quick(2), locked);
    Concept soft = train(quick(3, 0.1f), new ArrayList<>());
    Concept full = train(quick(3, 1f), new ArrayList<>());
    double lr = 0.03 * 0.1;
    double softMove = 0;
    double fullMove = 0;
    for (Map.Entry<String, float[]> e : locked.get(0).keyTargets().entrySet()) {
      float[] k0 = e.getValue();
      float[] k = soft.keyTargets().get(e.getKey());
      float[] kf = full.keyTargets().get(e.getKey());
      for (int i = 0; i < k0.length; i++) {
        double bound = 3 * lr * (1.01 + 0.01 * Math.abs(k0[i]) * 1.1);
        double move = Math.abs((double) k[i] - k0[i]);
        assertTrue(move <= bound, e.getKey() + "[" + i + "] moved " + move + " > " + bound);
        softMove = Math.max(softMove, move);
        fullMove = Math.max(fullMove, Math.abs((double) kf[i] - k0[i]));
      }
    }
    assertTrue(softMove > 0.5 * lr, "K must move at rate 0.1, largest move " + softMove);
    assertTrue(softMove < fullMove / 3, softMove + " vs rate 1's " + fullMove);
  }

  /**
   * A checkpoint of a run that learns K keeps K's Adam moments: resumed at step 2 of 4 (through the
   * bytes a worker stores), it ends where the uninterrupted run does, within 2e-5 (i* is kept in
   * fp32 in the checkpoint and averaged in double in the run); the same checkpoint with K's moments
   * zeroed ends more than ten times that away, so the tolerance tells the two apart. A checkpoint
   * of a locked run refuses to resume as a learned one, and the other way round.
   */
  @Test
  void aResumedRunEndsWhereTheUninterruptedOneDoes() {
    Concept straight = train(quick(4, 0.1f).withCheckpointEvery(100), new ArrayList<>());
    List<TrainerState> states = new ArrayList<>();
    train(quick(4, 0.1f).withCheckpointEvery(2), states);
    TrainerState half = roundTrip(states.get(0));
    assertEquals(2, half.completedSteps());
    assertFalse(half.keyM().isEmpty(), "the checkpoint must keep K's moments");
    Concept resumed =
        perfusion.trainer().train(square, quick(4, 0.1f), half, p -> {}, s -> {}, () -> false);
    for (String p : straight.keyTargets().keySet()) {
      assertArrayEquals(straight.keyTargets().get(p), resumed.keyTargets().get(p), 2e-5f, p);
      assertArrayEquals(straight.valueTargets().get(p), resumed.valueTargets().get(p), 1e-4f, p);
    }
    assertArrayEquals(straight.embedding(), resumed.embedding(), 1e-4f);
    Map<String, float[]> zeroM = new LinkedHashMap<>();
    half.keyM().forEach((p, v) -> zeroM.put(p, new float[v.length]));
    TrainerState forgetful =
        new TrainerState(
            half.placeholder(),
            half.superclass(),
            half.seed(),
            half.completedSteps(),
            half.iStar(),
            half.iSuper(),
            half.embedding(),
            half.embeddingM(),
            half.embeddingV(),
            half.keyTargets(),
            half.valueTargets(),
            half.valueM(),
            half.valueV(),
            zeroM,
            zeroM,
            half.lastLoss());
    Concept lost =
        perfusion.trainer().train(square, quick(4, 0.1f), forgetful, p -> {}, s -> {}, () -> false);
    double apart = 0;
    for (String p : straight.keyTargets().keySet()) {
      for (int i = 0; i < straight.keyTargets().get(p).length; i++) {
        apart =
            Math.max(
                apart, Math.abs(straight.keyTargets().get(p)[i] - lost.keyTargets().get(p)[i]));
      }
    }
    assertTrue(apart > 2e-4, "without K's moments the run must end elsewhere, apart " + apart);

    IllegalArgumentException asLocked =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                perfusion
                    .trainer()
                    .train(
                        square,
                        PerfusionAblationTest.quick(4),
                        half,
                        p -> {},
                        s -> {},
                        () -> false));
    assertTrue(asLocked.getMessage().contains("learned K targets"), asLocked.getMessage());
    List<TrainerState> lockedStates = new ArrayList<>();
    train(PerfusionAblationTest.quick(2), lockedStates);
    TrainerState lockedHalf = roundTrip(lockedStates.get(0));
    assertTrue(lockedHalf.keyM().isEmpty());
    assertThrows(
        IllegalArgumentException.class,
        () ->
            perfusion
                .trainer()
                .train(square, quick(4, 0.1f), lockedHalf, p -> {}, s -> {}, () -> false));
  }

  /** Out of range, or with the ablation that already learns K at the full rate: one-line errors. */
  @Test
  void badSettingsAreRefusedByName() {
    TrainingConfig cfg = TrainingConfig.defaults("zwx", "car");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> cfg.withKeyRate(1.5f));
    assertTrue(e.getMessage().startsWith("keyRate must be in [0, 1]"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> cfg.withKeyRate(-0.1f));
    assertThrows(IllegalArgumentException.class, () -> cfg.withKeyRate(Float.NaN));
    IllegalArgumentException both =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                perfusion
                    .trainer()
                    .withAblation(PerfusionAblation.NO_KEY_LOCK)
                    .train(square, quick(1, 0.1f), null, p -> {}, s -> {}, () -> false));
    assertTrue(both.getMessage().contains("no-key-lock"), both.getMessage());
  }

  /** The file keeps train.key_rate through a write and a read. */
  @Test
  void theFileRecordsTheRate() throws Exception {
    Concept c = train(quick(1, 0.1f), new ArrayList<>());
    Concept back = ConceptFile.fromBytes(ConceptFile.toBytes(c));
    assertEquals("0.1", back.trainingSettings().get(TrainingConfig.KEY_RATE));
    assertEquals(c.trainingSettings(), back.trainingSettings());
  }

  private static TrainerState roundTrip(TrainerState s) {
    try {
      return TrainerState.fromBytes(s.toBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
