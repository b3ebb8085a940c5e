package org.perfusionjobs.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * Frees a block's intermediates as soon as the block returns, as PyTorch does when the last
 * reference to a tensor goes. DJL puts an op's result in its first operand's manager, so the
 * block's inputs are temporarily attached to a fresh sub-manager: everything the block derives from
 * them lands there, {@link #keep} moves the block's output to the inputs' manager, and closing the
 * scope frees the rest and hands the inputs back unchanged.
 *
 * <pre>{@code
 * try (BlockScope s = BlockScope.open(x, temb)) {
 *   NDArray h = ...;
 *   return s.keep(x.add(h));
 * }
 * }</pre>
 *
 * <p>Under autograd this is safe: closing a handle only drops the Java side's reference to the
 * libtorch tensor; the graph keeps its own references to what the backward pass needs (as when a
 * Python variable goes out of scope). Arrays made from Java buffers (DJL's {@code create}) are the
 * exception (the buffer may be collected once the handle closes), so a block must not feed such an
 * array to an op that saves it for backward; see {@link Scalars}.
 *
 * <p>On by default; {@code -Dperfusion.engine.releaseIntermediates=false} (or {@link #runUnscoped})
 * turns every scope into a no-op, the engine's former behaviour, for benchmarks and equality tests.
 */
public final class BlockScope implements AutoCloseable {
  private static final boolean DEFAULT_ENABLED =
      Boolean.parseBoolean(System.getProperty("perfusion.engine.releaseIntermediates", "true"));
  private static final ThreadLocal<Boolean> OVERRIDE = new ThreadLocal<>();
  private static final ThreadLocal<Deque<BlockScope>> OPEN =
      ThreadLocal.withInitial(ArrayDeque::new);
  private static final BlockScope NONE = new BlockScope(null, null);

  private final NDManager parent;
  private final NDManager sub;

  private BlockScope(NDManager parent, NDManager sub) {
    this.parent = parent;
    this.sub = sub;
  }

  /** Whether scopes release intermediates on this thread. */
  public static boolean enabled() {
    Boolean o = OVERRIDE.get();
    return o != null ? o : DEFAULT_ENABLED;
  }

  /** Runs {@code body} with scopes switched off on this thread (the engine's former behaviour). */
  public static <T> T runUnscoped(Supplier<T> body) {
    Boolean previous = OVERRIDE.get();
    OVERRIDE.set(false);
    try {
      return body.get();
    } finally {
      OVERRIDE.set(previous);
    }
  }

  /**
   * Opens a scope over a block's inputs (nulls are skipped). The first input's manager receives
   * what {@link #keep} keeps.
   */
  public static BlockScope open(NDArray... inputs) {
    if (!enabled()) {
      return NONE;
    }
    NDManager parent = null;
    for (NDArray a : inputs) {
      if (a != null) {
        parent = a.getManager();
        break;
      }
    }
    if (parent == null) {
      return NONE;
    }
    NDManager sub = parent.newSubManager();
    // Attach each distinct input once: a second tempAttach of the same array would record the
    // sub-manager itself as its home, and closing the scope would then free the caller's array.
    Map<NDArray, Boolean> seen = new IdentityHashMap<>();
    for (NDArray a : inputs) {
      if (a != null && seen.put(a, Boolean.TRUE) == null) {
        a.tempAttach(sub);
      }
    }
    BlockScope s = new BlockScope(parent, sub);
    OPEN.get().addLast(s);
    return s;
  }

  /** Moves {@code result} out of the scope to the inputs' manager and returns it. */
  public NDArray keep(NDArray result) {
    if (sub != null) {
      result.attach(parent);
    }
    return result;
  }

  /** {@link #keep} for several results. */
  public List<NDArray> keepAll(List<NDArray> results) {
    List<NDArray> out = new ArrayList<>(results.size());
    for (NDArray r : results) {
      out.add(keep(r));
    }
    return out;
  }

  /**
   * Closes {@code array} now if scopes are on: for a value the caller made itself and knows to be
   * dead (never an input the caller was given).
   */
  public static void release(NDArray array) {
    if (enabled() && array != null) {
      array.close();
    }
  }

  /**
   * {@code op(temporary)}, then releases the temporary (when scopes are on): for chains of ops
   * whose intermediates are each used once, e.g. {@code consume(consume(norm(x), silu), conv)}.
   */
  public static NDArray consume(NDArray temporary, UnaryOperator<NDArray> op) {
    NDArray out = op.apply(temporary);
    if (out != temporary) {
      release(temporary);
    }
    return out;
  }

  /**
   * The manager outside every open scope of this thread (the caller's), or null when none is open:
   * where values that must outlive the blocks (probe captures) go.
   */
  static NDManager outermost() {
    BlockScope first = OPEN.get().peekFirst();
    return first == null ? null : first.parent;
  }

  @Override
  public void close() {
    if (sub == null) {
      return;
    }
    OPEN.get().remove(this);
    sub.close();
  }
}
