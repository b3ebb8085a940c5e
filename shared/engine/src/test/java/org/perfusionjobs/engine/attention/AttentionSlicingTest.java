package org.perfusionjobs.engine.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.nn.BlockScope;

/**
 * Sliced attention equals the full computation: each chunk of query rows takes its softmax over all
 * keys, so only the GEMM blocking can differ. Stated tolerance: 2e-6 absolute on outputs of
 * magnitude ~1 (a few fp32 ulps).
 */
class AttentionSlicingTest {
  static final float TOL = 2e-6f;

  @Test
  void chunkSizeFollowsTheBudget() {
    // SD v1.5 at 512 px: batch 2 x 8 heads, N = T = 4096, fp32: 1 GiB of scores.
    assertEquals(256, AttentionSlicing.AUTO.queryChunk(16, 4096, 4096, 4));
    assertEquals(
        1024, AttentionSlicing.AUTO.queryChunk(16, 1024, 1024, 4), "256 px fits: one chunk");
    assertEquals(4096, AttentionSlicing.NONE.queryChunk(16, 4096, 4096, 4));
    assertEquals(1, new AttentionSlicing(1).queryChunk(16, 4096, 4096, 4), "at least one row");
    assertEquals(AttentionSlicing.AUTO, AttentionSlicing.parse("auto"));
    assertEquals(AttentionSlicing.NONE, AttentionSlicing.parse("none"));
    assertEquals(32L << 20, AttentionSlicing.parse("32MiB").maxScoreBytes());
    assertThrows(IllegalArgumentException.class, () -> AttentionSlicing.parse("lots"));
    assertThrows(IllegalArgumentException.class, () -> new AttentionSlicing(0));
    assertTrue(AttentionSlicing.AUTO.fused(), "the default runs the fused kernel");
    assertEquals(AttentionSlicing.AUTO, AttentionSlicing.parse("fused"));
    assertTrue(!AttentionSlicing.parse("16MiB").fused(), "a size asks for the math path");
    assertTrue(!AttentionSlicing.NONE.fused());
  }

  /**
   * The fused kernel (the default) against the math path on the shapes SD uses: cross-attention
   * over 77 tokens, self-attention with head width 40 (SD v1.5), the VAE's single 512-wide head.
   * Tolerance 4e-6 absolute on outputs of magnitude ~1 (about 1e-6 measured): the kernel sums the
   * softmax in tiles (online rescaling), a different rounding order than one softmax over the row.
   */
  @Test
  void fusedKernelEqualsTheMathPath() {
    assertTrue(FusedAttention.available(), "the fused kernel loads in this engine");
    try (NDManager m = NDManager.newBaseManager()) {
      m.getEngine().setRandomSeed(5);
      int[][] shapes = { // batch, queries, keys, heads, head width
        {2, 300, 77, 4, 16}, {2, 1024, 1024, 8, 40}, {1, 256, 256, 1, 512}
      };
      for (int[] sh : shapes) {
        int c = sh[3] * sh[4];
        NDArray q = m.randomNormal(new Shape(sh[0], sh[1], c));
        NDArray k = m.randomNormal(new Shape(sh[0], sh[2], c));
        NDArray v = m.randomNormal(new Shape(sh[0], sh[2], c));
        NDArray math = Attention.scaledDotProduct(q, k, v, sh[3], sh[4], AttentionSlicing.NONE);
        NDArray fused = Attention.scaledDotProduct(q, k, v, sh[3], sh[4], AttentionSlicing.AUTO);
        assertEquals(math.getShape(), fused.getShape());
        float d = math.sub(fused).abs().max().getFloat();
        System.out.printf("fused vs math attention %s: max |diff| %.3g%n", q.getShape(), d);
        assertTrue(d <= 4e-6f, "fused differs by " + d + " at " + q.getShape());
      }
    }
  }

  /**
   * A closed form: when every key is the same vector the softmax is uniform, so each query's output
   * is the mean of the values, whatever the query.
   */
  @Test
  void equalKeysGiveTheMeanOfTheValues() {
    try (NDManager m = NDManager.newBaseManager()) {
      m.getEngine().setRandomSeed(9);
      int heads = 2;
      int headDim = 8;
      NDArray q = m.randomNormal(new Shape(1, 50, heads * headDim));
      NDArray k = m.randomNormal(new Shape(1, 1, heads * headDim)).repeat(1, 30);
      NDArray v = m.randomNormal(new Shape(1, 30, heads * headDim));
      NDArray expected = v.mean(new int[] {1}, true).repeat(1, 50);
      for (AttentionSlicing s :
          new AttentionSlicing[] {AttentionSlicing.AUTO, AttentionSlicing.NONE}) {
        NDArray out = Attention.scaledDotProduct(q, k, v, heads, headDim, s);
        float d = out.sub(expected).abs().max().getFloat();
        assertTrue(d <= TOL, s + " differs from the mean of the values by " + d);
      }
    }
  }

  @Test
  void slicedEqualsFullForEveryChunking() {
    try (NDManager m = NDManager.newBaseManager()) {
      m.getEngine().setRandomSeed(3);
      int heads = 4;
      int headDim = 16;
      NDArray q = m.randomNormal(new Shape(2, 300, heads * headDim));
      NDArray k = m.randomNormal(new Shape(2, 77, heads * headDim));
      NDArray v = m.randomNormal(new Shape(2, 77, heads * headDim));
      NDArray full = Attention.scaledDotProduct(q, k, v, heads, headDim, AttentionSlicing.NONE);
      NDArray unscoped =
          BlockScope.runUnscoped(() -> Attention.scaledDotProduct(q, k, v, heads, headDim));
      assertEquals(
          0f,
          full.sub(unscoped).abs().max().getFloat(),
          "the unsliced path is today's, bit for bit");
      long rowBytes = 2L * heads * 77 * 4;
      float worst = 0;
      // Chunks of 1, 7 (not dividing 300), 64 and 299 rows.
      for (long rows : new long[] {1, 7, 64, 299}) {
        NDArray sliced =
            Attention.scaledDotProduct(
                q, k, v, heads, headDim, new AttentionSlicing(rows * rowBytes));
        float d = full.sub(sliced).abs().max().getFloat();
        assertTrue(d <= TOL, rows + "-row chunks differ by " + d);
        worst = Math.max(worst, d);
      }
      // Self-attention shape, single head (the VAE's mid-block attention).
      NDArray x = m.randomNormal(new Shape(1, 256, 32));
      NDArray f1 = Attention.scaledDotProduct(x, x, x, 1, 32, AttentionSlicing.NONE);
      NDArray s1 = Attention.scaledDotProduct(x, x, x, 1, 32, new AttentionSlicing(10 * 256 * 4));
      float d1 = f1.sub(s1).abs().max().getFloat();
      assertTrue(d1 <= TOL, "single head differs by " + d1);
      System.out.printf(
          "sliced vs full attention: max |diff| %.3g (multi-head), %.3g (single head)%n",
          worst, d1);
    }
  }
}
