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
