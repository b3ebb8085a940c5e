package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import java.util.function.UnaryOperator;

/** Activation functions by their config names. */
public final class Activations {
  private Activations() {}

  /** SiLU / swish: x * sigmoid(x). */
  public static NDArray silu(NDArray x) {
    return BlockScope.consume(Activation.sigmoid(x), x::mul);
  }

  /** Exact (erf) GELU, as torch.nn.functional.gelu with approximate='none'. */
  public static NDArray gelu(NDArray x) {
    return Activation.gelu(x);
  }

  /** CLIP's quick_gelu: x * sigmoid(1.702 x). */
  public static NDArray quickGelu(NDArray x) {
    return x.mul(Activation.sigmoid(Scalars.mul(x, 1.702f)));
  }

  /** Resolves a transformers/diffusers activation name ("silu", "gelu", "quick_gelu", "swish"). */
  public static UnaryOperator<NDArray> byName(String name) {
    switch (name) {
      case "silu":
      case "swish":
        return Activations::silu;
      case "gelu":
        return Activations::gelu;
      case "quick_gelu":
        return Activations::quickGelu;
      default:
        throw new IllegalArgumentException(
            "activation '" + name + "' is not supported (silu, swish, gelu, quick_gelu)");
    }
  }
}
