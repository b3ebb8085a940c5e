package org.perfusionjobs.engine.perfusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.awt.Color;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.attention.Conditioning;
import org.perfusionjobs.engine.clip.ClipTokenizer;
import org.perfusionjobs.engine.pipeline.PromptBatch;

/**
 * Two concepts' phrases encoded apart (beyond the paper): where the second phrase starts, and the
 * spliced encodings against text-encoder passes of the two phrases written out by hand.
 */
class PhraseEncodingTest {
  private static final long A = 900; // concept tokens
  private static final long B = 901;
  private static final long AND = 7;

  @Test
  void theSecondPhraseStartsAfterTheLastJoinerBeforeTheSecondConcept() {
    long[] c = {A, B};
    long[] j = {AND};
    // start, "a", A, "on", "left", and, "a", B, "on", end, pad
    assertEquals(6, PhraseEncoding.split(new long[] {0, 1, A, 2, 3, AND, 1, B, 2, 99, 99}, c, j));
    // no joiner between the two concepts: the phrase is the second concept's word
    assertEquals(3, PhraseEncoding.split(new long[] {0, A, 2, B, 2, 99, 99}, c, j));
    // a joiner before the first concept does not count
    assertEquals(4, PhraseEncoding.split(new long[] {0, AND, A, 2, B, 99}, c, j));
    // one concept (twice the same word counts twice: it is its second phrase)
    assertEquals(-1, PhraseEncoding.split(new long[] {0, 1, A, 2, AND, 3, 99}, c, j));
    assertEquals(-1, PhraseEncoding.split(new long[] {0, 1, 2, 99}, c, j));
    assertArrayEquals(
        new long[] {0, 1, B, 2, 99, 99, 99},
        PhraseEncoding.phrase(new long[] {0, A, AND, 1, B, 2, 99}, 3, 0, 99));
  }

  @Test
  void aConceptFileRecordsTheEncodingAndJointIsTheDefault() throws Exception {
    Concept c = twoConcepts().get(0);
    assertEquals(PhraseEncoding.JOINT, PhraseEncoding.of(c));
    assertEquals(PhraseEncoding.APART, PhraseEncoding.of(PhraseEncoding.APART.apply(c)));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> PhraseEncoding.parse("split"));
    assertEquals("phrase encoding 'split': expected joint or apart", e.getMessage());
  }

  /**
   * The prompt row before the split is the joint pass's; from the split on it is the pass of "a qjd
   * of my car" alone (its start token dropped); the unconditional row is untouched; and the second
   * concept's token did change (it no longer sees the first concept).
   */
  @Test
  void theSecondPhraseIsEncodedAsIfAloneAndSplicedIn() throws Exception {
    var sd = TinyModel.pipeline();
    PerfusionModel perfusion = PerfusionModel.of(sd);
    List<Concept> cs = twoConcepts();
    String first = "a zwx on the beach and";
    String second = "a qjd of my car";
    PromptBatch batch = new PromptBatch(first + " " + second, "", 1, true);
    List<ConceptUse> joint = List.of(ConceptUse.of(cs.get(0)), ConceptUse.of(cs.get(1)));
    List<ConceptUse> apart =
        List.of(ConceptUse.of(cs.get(0)), ConceptUse.of(PhraseEncoding.APART.apply(cs.get(1))));
    try (NDManager m = sd.manager().newSubManager()) {
      Conditioning j = perfusion.conditioner(joint, false).condition(sd, batch, m);
      Conditioning a = perfusion.conditioner(apart, false).condition(sd, batch, m);
      ClipTokenizer tok = sd.tokenizer().withAddedTokens(List.of("zwx", "qjd"));
      float[] flat = new float[2 * cs.get(0).embedding().length];
      System.arraycopy(cs.get(0).embedding(), 0, flat, 0, cs.get(0).embedding().length);
      System.arraycopy(
          cs.get(1).embedding(), 0, flat, flat.length / 2, cs.get(1).embedding().length);
      NDArray added = m.create(flat, new Shape(2, flat.length / 2));
      NDArray whole = sd.textEncoder().forward(tok.encode(batch.rows(), m), added);
      NDArray alone = sd.textEncoder().forward(tok.encode(List.of(second), m), added);
      int s = 1 + tok.tokens(first).size();
      int t = tok.maxLength();
      NDArray v = a.valueStates();
      assertSame(a.keyStates(), v, "local locking: one encoding for both paths");
      assertTrue(maxDiff(v.get(new NDIndex("0")), whole.get(new NDIndex("0"))) < 1e-5f);
      assertTrue(
          maxDiff(v.get(new NDIndex("1, :{}", s)), whole.get(new NDIndex("1, :{}", s))) < 1e-5f,
          "before the split: the joint pass");
      assertTrue(
          maxDiff(v.get(new NDIndex("1, {}:", s)), alone.get(new NDIndex("0, 1:{}", t - s + 1)))
              < 1e-5f,
          "from the split on: the second phrase alone");
      assertTrue(
          maxDiff(j.valueStates(), whole) < 1e-5f, "joint (the paper's): one pass, unchanged");
      int qjd = s + 1; // "a", then the concept's token
      assertEquals(List.of("a</w>", "qjd"), tok.tokens(second).subList(0, 2));
      assertTrue(
          maxDiff(v.get(new NDIndex("1, {}", qjd)), whole.get(new NDIndex("1, {}", qjd))) > 1e-3f,
          "the second concept's token no longer sees the first");
    }
  }

  private static float maxDiff(NDArray x, NDArray y) {
    return x.sub(y).abs().max().getFloat();
  }

  private static List<Concept> twoConcepts() throws Exception {
    PerfusionModel perfusion = PerfusionModel.of(TinyModel.pipeline());
    TrainingImages square =
        new TrainingImages(
            TinyModel.images(4, Color.RED, false), TinyModel.images(4, Color.RED, true));
    List<Concept> out = new ArrayList<>();
    for (String[] w : new String[][] {{"zwx", "car"}, {"qjd", "bird"}}) {
      out.add(
          perfusion
              .trainer()
              .train(
                  square,
                  PerfusionTrainerTest.quick(w[0], w[1], 1),
                  null,
                  p -> {},
                  st -> {},
                  () -> false));
    }
    return out;
  }
}
