/*
** dotgemm_bench.c: speed of llm_dotgemm (kernels/dotgemm.h), one thread,
** on the matrix shapes of a 110M Llama (C = 768, hidden 2048, vocabulary
** 32000), against the products it would replace, timed in the same run.
**
**   make build/bench_dotgemm_bench && build/bench_dotgemm_bench [reps [simd]]
**
** simd: the LLM_SIMD_* level of llm_dotgemm and llm_vmatvec (default the
** best this CPU has).
**
** prompt: n = 128 rows times W of (m, K) in (768, 768) (attention),
**   (2048, 768) (MLP up), (768, 2048) (MLP down), (32000, 768) (head):
**   GFLOP/s (2 n m K per call) of llm_dotgemm with float32 weights (from
**   malloc, as the engine's; dg_f32a: the same 64-byte aligned, which
**   llm_dotgemm reads without copying them), float16 and bfloat16 weights,
**   of OpenBLAS's cblas_sgemm (llm_sgemm, one thread) with float32 ones,
**   the ratio dotgemm F32 (from malloc) / sgemm, and dotgemm F32 as a
**   share of the fp32 FMA peak (bench/fma_peak.h).
** decode: n = 1 on the same shapes: GB/s of weights read (m K times 4 or
**   2 bytes per call) by llm_dotgemm and by llm_vmatvec (kernels/vec.h,
**   float32 only), and the ratio of the float32 figures.
** Every figure is the median of reps (default 7) timings of at least 50 ms
** of this thread's CPU time each, the contenders interleaved (the machine
** is shared and noisy). The activations come from malloc, unaligned to
** cache lines as the engine's are.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas.h"
#include "kernels/dotgemm.h"
#include "kernels/qtypes.h"
#include "kernels/vec.h"
#include "bench_time.h"
#include "fma_peak.h"

#define MAX_REPS 31
#define MIN_SECONDS 0.05

typedef struct shape {
  const char *name;
  size_t m, K;
} shape;

static const shape SHAPES[] = {
    {"attn", 768, 768}, {"up", 2048, 768}, {"down", 768, 2048}, {"head", 32000, 768}};

/* What one timed call computes. */
typedef enum { DOTGEMM, DOTGEMM_ALIGNED, SGEMM, VMATVEC } contender;

typedef struct problem {
  size_t n, m, K;
  const float *x;
  const void *w[3]; /* the weights as float32, float16, bfloat16 */
  const float *w_aligned; /* float32 again, at a multiple of 64 bytes */
  float *out;
} problem;

static void run_once(const problem *p, contender c, int wtype, int simd) {
  switch (c) {
    case DOTGEMM:
      llm_dotgemm(simd, p->out, p->m, p->x, p->K, p->n, p->w[wtype], wtype,
                  p->K * (wtype == LLM_DOTGEMM_F32 ? 4 : 2), p->m, p->K, 0);
      break;
    case DOTGEMM_ALIGNED:
      llm_dotgemm(simd, p->out, p->m, p->x, p->K, p->n, p->w_aligned, LLM_DOTGEMM_F32, p->K * 4, p->m,
                  p->K, 0);
      break;
    case SGEMM:
      llm_sgemm(0, 1, (int)p->n, (int)p->m, (int)p->K, 1.0f, p->x, (int)p->K, p->w[0], (int)p->K,
                0.0f, p->out, (int)p->m);
      break;
    case VMATVEC:
      memset(p->out, 0, p->m * sizeof *p->out); /* it adds to out */
      llm_vmatvec(simd, p->out, p->w[0], p->x, p->m, p->K);
      break;
  }
}

/* This thread's CPU seconds: on a shared machine, unlike the wall clock,
** they leave out the time other processes had the core. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds per call: calls repeated for at least MIN_SECONDS. */
static double time_call(const problem *p, contender c, int wtype, int simd) {
  run_once(p, c, wtype, simd); /* warm */
  long calls = 0;
  double t0 = cpu_now(), t;
  do {
    run_once(p, c, wtype, simd);
    calls++;
    t = cpu_now() - t0;
  } while (t < MIN_SECONDS);
  return t / (double)calls;
}

static float uniform(uint64_t *s) { /* xorshift64*, [-1, 1) */
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return (float)(uint32_t)((*s * 0x2545F4914F6CDD1Dull) >> 32) / 2147483648.0f - 1.0f;
}

/* The contenders of one shape, interleaved rep by rep: c[i] with type
** wt[i]; sec[i] gets the median seconds per call. */
static void time_shape(const problem *p, int k, const contender *c, const int *wt, int simd,
                       int reps, double *sec) {
  double t[5][MAX_REPS];
  for (int r = 0; r < reps; r++)
    for (int i = 0; i < k; i++) t[i][r] = time_call(p, c[i], wt[i], simd);
  for (int i = 0; i < k; i++) sec[i] = median(t[i], reps, NULL);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  int simd = argc > 2 ? atoi(argv[2]) : llm_simd_best();
  if (reps < 1 || reps > MAX_REPS) reps = 7;
  if (simd < 0 || simd > llm_simd_best()) simd = llm_simd_best();
  llm_blas_set_threads(1);
  llm_pool *pool = NULL;
  llm_err err;
  if (llm_pool_new(1, &pool, &err) != LLM_OK) return 1;
  double peak = fma_peak_gflops(pool);
  llm_pool_free(pool);
  printf("simd level %d, one thread, fp32 FMA peak %.1f GFLOP/s, median of %d\n", simd, peak, reps);

  size_t n_prompt = 128, max_mk = 32000 * 768;
  uint64_t s = 1;
  float *x = malloc(n_prompt * 2048 * sizeof *x), *out = malloc(n_prompt * 32000 * sizeof *out);
  float *w32 = malloc(max_mk * sizeof *w32), *w32a = aligned_alloc(64, max_mk * sizeof *w32a);
  uint16_t *w16 = malloc(max_mk * 2), *wbf = malloc(max_mk * 2);
  if (!x || !out || !w32 || !w32a || !w16 || !wbf) return 1;
  for (size_t i = 0; i < n_prompt * 2048; i++) x[i] = uniform(&s);
  for (size_t i = 0; i < max_mk; i++) {
    w32[i] = uniform(&s) * 0.05f;
    w16[i] = llm_f32_to_f16(w32[i]), wbf[i] = llm_f32_to_bf16(w32[i]), w32a[i] = w32[i];
  }

  printf("\nprompt n = %zu, GFLOP/s\n%-5s %6s %5s %8s %8s %8s %8s %8s %9s %6s\n", n_prompt, "shape", "m",
         "K", "dg_f32", "dg_f32a", "dg_f16", "dg_bf16", "sgemm", "f32/sgemm", "%peak");
  for (size_t i = 0; i < sizeof SHAPES / sizeof *SHAPES; i++) {
    const shape *sh = &SHAPES[i];
    problem p = {n_prompt, sh->m, sh->K, x, {w32, w16, wbf}, w32a, out};
    const contender c[5] = {DOTGEMM, DOTGEMM_ALIGNED, DOTGEMM, DOTGEMM, SGEMM};
    const int wt[5] = {LLM_DOTGEMM_F32, LLM_DOTGEMM_F32, LLM_DOTGEMM_F16, LLM_DOTGEMM_BF16, LLM_DOTGEMM_F32};
    double sec[5], flop = 2.0 * (double)(p.n * p.m * p.K);
    time_shape(&p, 5, c, wt, simd, reps, sec);
    printf("%-5s %6zu %5zu %8.1f %8.1f %8.1f %8.1f %8.1f %9.2f %6.1f\n", sh->name, sh->m, sh->K,
           flop / sec[0] / 1e9, flop / sec[1] / 1e9, flop / sec[2] / 1e9, flop / sec[3] / 1e9,
           flop / sec[4] / 1e9, sec[4] / sec[0], peak > 0 ? 100 * flop / sec[0] / 1e9 / peak : 0.0);
  }

  printf("\ndecode n = 1, GB/s of weights\n%-5s %6s %5s %8s %8s %8s %8s %10s\n", "shape", "m", "K",
         "dg_f32", "dg_f16", "dg_bf16", "vmatvec", "f32/matvec");
  for (size_t i = 0; i < sizeof SHAPES / sizeof *SHAPES; i++) {
    const shape *sh = &SHAPES[i];
    problem p = {1, sh->m, sh->K, x, {w32, w16, wbf}, w32a, out};
    const contender c[4] = {DOTGEMM, DOTGEMM, DOTGEMM, VMATVEC};
    const int wt[4] = {LLM_DOTGEMM_F32, LLM_DOTGEMM_F16, LLM_DOTGEMM_BF16, LLM_DOTGEMM_F32};
    double sec[4], mk = (double)(p.m * p.K);
    time_shape(&p, 4, c, wt, simd, reps, sec);
    printf("%-5s %6zu %5zu %8.1f %8.1f %8.1f %8.1f %10.2f\n", sh->name, sh->m, sh->K, 4 * mk / sec[0] / 1e9,
           2 * mk / sec[1] / 1e9, 2 * mk / sec[2] / 1e9, 4 * mk / sec[3] / 1e9, sec[3] / sec[0]);
  }
  free(x), free(out), free(w32), free(w32a), free(w16), free(wbf);
  return 0;
}
