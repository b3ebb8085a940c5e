package org.perfusionjobs.engine.clip;

import ai.djl.ndarray.NDArray;
import java.util.function.UnaryOperator;
import org.perfusionjobs.engine.nn.ActivationProbe;
import org.perfusionjobs.engine.nn.Activations;
import org.perfusionjobs.engine.nn.BlockScope;
import org.perfusionjobs.engine.nn.LayerNorm;
import org.perfusionjobs.engine.nn.Linear;
import org.perfusionjobs.engine.nn.Module;
import org.perfusionjobs.engine.nn.Scalars;

/**
 * One pre-LN CLIP layer: x + self_attn(layer_norm1(x)) with a causal mask, then x +
 * mlp(layer_norm2(x)). Legend: B batch, T tokens, D width.
 */
public final class ClipEncoderLayer extends Module {
  public final SelfAttention selfAttn;
  public final LayerNorm layerNorm1; // (D)
  public final Mlp mlp;
  public final LayerNorm layerNorm2; // (D)
  String path = "";

  ClipEncoderLayer(ClipTextConfig cfg) {
    this.selfAttn =
        child("self_attn", new SelfAttention(cfg.hiddenSize(), cfg.numAttentionHeads()));
    this.layerNorm1 = child("layer_norm1", new LayerNorm(cfg.hiddenSize(), cfg.layerNormEps()));
    this.mlp =
        child(
            "mlp",
            new Mlp(cfg.hiddenSize(), cfg.intermediateSize(), Activations.byName(cfg.hiddenAct())));
    this.layerNorm2 = child("layer_norm2", new LayerNorm(cfg.hiddenSize(), cfg.layerNormEps()));
  }

  /** x: (B, T, D); causalMask: (T, T) additive. */
  NDArray forward(NDArray x, NDArray causalMask) {
    try (BlockScope s = BlockScope.open(x, causalMask)) {
      NDArray a = selfAttn.forward(layerNorm1.forward(x), causalMask);
      ActivationProbe.record(path + ".self_attn", a);
      NDArray h = x.add(a);
      NDArray f = mlp.forward(layerNorm2.forward(h));
      ActivationProbe.record(path + ".mlp", f);
      return s.keep(h.add(f));
    }
  }

  /** CLIP attention: q/k/v/out projections with biases, q scaled by 1/sqrt(head), causal. */
  public static final class SelfAttention extends Module {
    public final Linear qProj; // (D, D)
    public final Linear kProj; // (D, D)
    public final Linear vProj; // (D, D)
    public final Linear outProj; // (D, D)
    private final int heads;
    private final int headDim;

    SelfAttention(int dim, int heads) {
      this.heads = heads;
      this.headDim = dim / heads;
      this.kProj = child("k_proj", new Linear(dim, dim, true));
      this.vProj = child("v_proj", new Linear(dim, dim, true));
      this.qProj = child("q_proj", new Linear(dim, dim, true));
      this.outProj = child("out_proj", new Linear(dim, dim, true));
    }

    NDArray forward(NDArray x, NDArray causalMask) {
      long b = x.getShape().get(0);
      long t = x.getShape().get(1);
      NDArray q = split(Scalars.mul(qProj.forward(x), (float) (1.0 / Math.sqrt(headDim))), b, t);
      NDArray k = split(kProj.forward(x), b, t);
      NDArray v = split(vProj.forward(x), b, t);
      NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).add(causalMask); // (B, H, T, T)
      NDArray out =
          scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(b, t, (long) heads * headDim);
      return outProj.forward(out);
    }

    private NDArray split(NDArray x, long b, long t) {
      return x.reshape(b, t, heads, headDim).transpose(0, 2, 1, 3);
    }
  }

  /** fc1, activation, fc2. */
  public static final class Mlp extends Module {
    public final Linear fc1; // (I, D)
    public final Linear fc2; // (D, I)
    private final UnaryOperator<NDArray> act;

    Mlp(int dim, int inner, UnaryOperator<NDArray> act) {
      this.act = act;
      this.fc1 = child("fc1", new Linear(dim, inner, true));
      this.fc2 = child("fc2", new Linear(inner, dim, true));
    }

    NDArray forward(NDArray x) {
      return fc2.forward(act.apply(fc1.forward(x)));
    }
  }
}
