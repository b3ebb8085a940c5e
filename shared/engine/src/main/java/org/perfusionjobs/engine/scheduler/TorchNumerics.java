package org.perfusionjobs.engine.scheduler;

/**
 * The few torch/numpy routines whose exact float32 results the schedule tables depend on,
 * re-implemented on the host so the tables match diffusers bit for bit on any machine.
 */
final class TorchNumerics {
  /** float lanes of the AVX2 kernels (at::vec::Vectorized<float>::size()). */
  private static final int AVX2_FLOAT_LANES = 8;

  private TorchNumerics() {}

  /**
   * {@code torch.linspace(start, end, n, dtype=torch.float32)} on the CPU, as the reference torch
   * (1.13, AVX2 kernel) computes it: step = (end - start) / (n - 1) in float; the first half counts
   * up from start, the second half down from end; values come in vectors of 8 lanes, two vectors
   * per loop turn, each vector's first lane fused-multiply-added (the kernel is built with FMA) and
   * the other lanes stepped from it; the tail that does not fill two vectors is computed per
   * element. A plain start + i * step differs in the last bit at many indices, and those bits
   * survive the cumulative product: with this kernel, alphas_cumprod equals the reference exactly
   * (for N = 1000 16-lane vectors give the same values; without the FMA, or with a float
   * accumulator in the cumprod, hundreds of values differ by up to 3.6e-7).
   */
  static float[] linspaceFp32(double startValue, double endValue, int n) {
    float start = (float) startValue;
    float end = (float) endValue;
    float step = (end - start) / (float) (n - 1);
    int halfway = n / 2;
    float[] out = new float[n];
    int i = 0;
    for (; i + 2 * AVX2_FLOAT_LANES <= n; i += 2 * AVX2_FLOAT_LANES) {
      fillVector(out, i, start, end, step, halfway, n);
      fillVector(out, i + AVX2_FLOAT_LANES, start, end, step, halfway, n);
    }
    for (; i < n; i++) {
      out[i] = linspaceElement(start, end, step, halfway, n, i);
    }
    return out;
  }

  private static void fillVector(
      float[] out, int idx, float start, float end, float step, int halfway, int n) {
    float base = linspaceElement(start, end, step, halfway, n, idx);
    for (int lane = 0; lane < AVX2_FLOAT_LANES; lane++) {
      out[idx + lane] = Math.fma((float) lane, step, base);
    }
  }

  private static float linspaceElement(
      float start, float end, float step, int halfway, int n, int idx) {
    return idx < halfway
        ? Math.fma(step, (float) idx, start)
        : Math.fma(-step, (float) (n - idx - 1), end);
  }

  /**
   * {@code torch.cumprod} of a float32 vector on the CPU: the running product is kept in double
   * (at::acc_type of float on CPU) and each output is rounded to float.
   */
  static float[] cumprodFp32(float[] values) {
    float[] out = new float[values.length];
    double acc = 1.0;
    for (int i = 0; i < values.length; i++) {
      acc *= values[i];
      out[i] = (float) acc;
    }
    return out;
  }

  /**
   * {@code numpy.linspace(start, stop, num)} in float64: i * step + start, last value exactly stop.
   */
  static double[] linspace(double start, double stop, int num) {
    double[] out = new double[num];
    if (num == 1) {
      out[0] = start;
      return out;
    }
    double step = (stop - start) / (num - 1);
    for (int i = 0; i < num; i++) {
      out[i] = i * step + start;
    }
    out[num - 1] = stop;
    return out;
  }

  /** {@code numpy.round} (half to even). */
  static double round(double x) {
    return Math.rint(x);
  }

  /**
   * {@code numpy.interp(x, arange(len(table)), table)} in float64: linear interpolation on the
   * integer grid, clamped at both ends.
   */
  static double interp(double x, float[] table) {
    int last = table.length - 1;
    if (x <= 0) {
      return table[0];
    }
    if (x >= last) {
      return table[last];
    }
    int j = (int) Math.floor(x);
    if (x == j) {
      return table[j];
    }
    double slope = (double) table[j + 1] - (double) table[j];
    return slope * (x - j) + table[j];
  }

  /**
   * {@code t ** 0.5} on a float32 tensor (torch maps the 0.5 power to a correctly rounded sqrt).
   */
  static float sqrt(float x) {
    return (float) Math.sqrt(x);
  }

  /**
   * {@code numpy.arange(start, stop, step)} in float64 for a negative step: length ceil((stop -
   * start) / step), values start + i * delta with delta = (start + step) - start, as numpy fills
   * float ranges.
   */
  static double[] arangeDown(double start, double stop, double step) {
    int len = (int) Math.ceil((stop - start) / step);
    double delta = (start + step) - start;
    double[] out = new double[Math.max(len, 0)];
    for (int i = 0; i < out.length; i++) {
      out[i] = start + i * delta;
    }
    return out;
  }
}
