/*
** fma_peak.h: the CPU's fp32 peak as a benchmark can reach it, measured in
** the same run as the figure it is compared with (shared machines drift).
**
** fma_peak_gflops(pool) runs, on every thread of the pool at once, a loop
** of independent fused multiply-adds on registers only (no memory
** traffic): 12 accumulator chains, more than the FMA latency times the
** number of FMA pipes on current x86 cores, so the loop is bound by FMA
** throughput alone. It uses AVX-512 where the CPU has it (OpenBLAS's
** SkylakeX kernels do), else AVX2 + FMA, and returns the best GFLOP/s of
** the pool as a whole over a few short rounds, or 0 on a CPU with neither.
** This is the ceiling no fp32 matrix product can pass.
*/
#ifndef LLM_FMA_PEAK_H
#define LLM_FMA_PEAK_H
#include <immintrin.h>
#include <stdint.h>

#include "bench_time.h"
#include "pool.h"

#define FMA_PEAK_ITERS 20000000L
#define FMA_PEAK_CHAINS 12

/* The loop body for vector type V: 12 chains acc = acc * mul + add. */
#define FMA_PEAK_LOOP(V, set1, fmadd, add_ps, store, lanes)                 \
  V mul = set1(0.9999f), add = set1(1e-4f), acc[FMA_PEAK_CHAINS];            \
  for (int c = 0; c < FMA_PEAK_CHAINS; c++) acc[c] = set1((float)c);         \
  for (long i = 0; i < FMA_PEAK_ITERS; i++) {                                \
    acc[0] = fmadd(acc[0], mul, add), acc[1] = fmadd(acc[1], mul, add);      \
    acc[2] = fmadd(acc[2], mul, add), acc[3] = fmadd(acc[3], mul, add);      \
    acc[4] = fmadd(acc[4], mul, add), acc[5] = fmadd(acc[5], mul, add);      \
    acc[6] = fmadd(acc[6], mul, add), acc[7] = fmadd(acc[7], mul, add);      \
    acc[8] = fmadd(acc[8], mul, add), acc[9] = fmadd(acc[9], mul, add);      \
    acc[10] = fmadd(acc[10], mul, add), acc[11] = fmadd(acc[11], mul, add);  \
  }                                                                          \
  for (int c = 1; c < FMA_PEAK_CHAINS; c++) acc[0] = add_ps(acc[0], acc[c]); \
  float out[lanes];                                                          \
  store(out, acc[0]);                                                        \
  return out[0];

__attribute__((target("avx512f"))) static float fma_peak_loop512(void) {
  FMA_PEAK_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
                _mm512_storeu_ps, 16)
}

__attribute__((target("avx2,fma"))) static float fma_peak_loop256(void) {
  FMA_PEAK_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
                _mm256_storeu_ps, 8)
}

typedef struct fma_peak_ctx {
  int lanes;
  volatile float sink[64]; /* one per pool thread: keeps the results alive */
} fma_peak_ctx;

static void fma_peak_task(void *p, size_t lo, size_t hi, int tid) {
  fma_peak_ctx *c = p;
  for (size_t i = lo; i < hi; i++)
    c->sink[tid] = c->lanes == 16 ? fma_peak_loop512() : fma_peak_loop256();
}

static double fma_peak_gflops(llm_pool *pool) {
  __builtin_cpu_init();
  fma_peak_ctx c = {0};
  if (__builtin_cpu_supports("avx512f"))
    c.lanes = 16;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    c.lanes = 8;
  else
    return 0.0;
  int threads = llm_pool_threads(pool);
  double best = 0.0;
  for (int round = 0; round < 5; round++) {
    double t0 = now();
    llm_pool_for(pool, (size_t)threads, fma_peak_task, &c);
    double t = now() - t0;
    double gf = 2.0 * c.lanes * FMA_PEAK_CHAINS * (double)FMA_PEAK_ITERS *
                threads / t / 1e9;
    best = gf > best ? gf : best;
  }
  return best;
}

#endif
