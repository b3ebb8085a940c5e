/* fp32 GEMM rate of the machine's OpenBLAS (Debian libopenblas), the reference of
 * `perfusion bench-gemm`. Usage: openblas_sgemm REPEATS M,N,K [M,N,K ...]; prints one line per
 * shape: "M,N,K GFLOP/s" (best of REPEATS after one warm-up). Threads: OPENBLAS_NUM_THREADS. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s REPEATS M,N,K ...\n", argv[0]);
    return 2;
  }
  int repeats = atoi(argv[1]);
  for (int s = 2; s < argc; s++) {
    long m, n, k;
    if (sscanf(argv[s], "%ld,%ld,%ld", &m, &n, &k) != 3) {
      fprintf(stderr, "bad shape %s\n", argv[s]);
      return 2;
    }
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n), *c = malloc(sizeof(float) * m * n);
    for (long i = 0; i < m * k; i++) a[i] = (float) ((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (long i = 0; i < k * n; i++) b[i] = (float) ((i * 104729) % 1000) / 1000.0f - 0.5f;
    double best = 1e30;
    for (int r = -1; r < repeats; r++) {
      double t0 = now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
      double dt = now() - t0;
      if (r >= 0 && dt < best) best = dt;
    }
    printf("%ld,%ld,%ld %.1f\n", m, n, k, 2.0 * m * n * k / best / 1e9);
    fflush(stdout);
    free(a); free(b); free(c);
  }
  printf("config %s\n", openblas_get_config());
  printf("corename %s\n", openblas_get_corename());
  return 0;
}
