/*
** test_linear.c: the typed products of nn/linear.h give each activation row
** the same arithmetic however many rows share the call and wherever the row
** sits (what batched generation needs: nn/batch.h), for every weight type,
** at every SIMD level the CPU has, inline and on two threads; and they stay
** close to a float64 product of the dequantized weights.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qtypes.h"
#include "kernels/vec.h"
#include "nn/linear.h"
#include "rng.h"
#include "check.h"

#define ROWS 70   /* weight rows: not a multiple of any tile */
#define COLS 768  /* three blocks of 256 (the k-quants' block) */
#define MAXN 130

static llm_pool *pool2;

static const uint32_t TYPES[] = {LLM_QTYPE_F32,  LLM_QTYPE_F16,  LLM_QTYPE_BF16, LLM_QTYPE_Q8_0, LLM_QTYPE_Q4_0,
                                 LLM_QTYPE_Q4_1, LLM_QTYPE_Q5_0, LLM_QTYPE_Q5_1, LLM_QTYPE_Q2_K, LLM_QTYPE_Q3_K,
                                 LLM_QTYPE_Q4_K, LLM_QTYPE_Q5_K, LLM_QTYPE_Q6_K};

typedef struct setup {
  void *w;
  llm_wmat m;
  float *x, *bias, *deq;
  void *act;
  llm_linear_buf buf;
} setup;

static int make(setup *s, uint32_t type, llm_rng *rng) {
  memset(s, 0, sizeof *s);
  const llm_qtype *q = llm_qtype_get(type);
  uint64_t rb;
  llm_err err;
  float *wf = malloc((size_t)ROWS * COLS * sizeof *wf);
  for (size_t i = 0; i < (size_t)ROWS * COLS; i++) wf[i] = 0.05f * llm_rng_normal(rng);
  if (llm_qtype_row_bytes(type, COLS, &rb)) return 0;
  s->w = malloc((size_t)rb * ROWS);
  for (int r = 0; r < ROWS; r++)
    if (type == LLM_QTYPE_F32)
      memcpy((char *)s->w + (size_t)r * rb, wf + (size_t)r * COLS, COLS * sizeof(float));
    else
      q->from_float(wf + (size_t)r * COLS, (char *)s->w + (size_t)r * rb, COLS);
  free(wf);
  if (llm_wmat_init(&s->m, "w", s->w, type, ROWS, COLS, &err)) return 0;
  s->deq = malloc((size_t)ROWS * COLS * sizeof *s->deq);
  llm_wmat_rows(&s->m, 0, ROWS, s->deq);
  s->x = malloc((size_t)MAXN * COLS * sizeof *s->x);
  for (size_t i = 0; i < (size_t)MAXN * COLS; i++) s->x[i] = llm_rng_normal(rng);
  s->bias = malloc(ROWS * sizeof *s->bias);
  for (int i = 0; i < ROWS; i++) s->bias[i] = 0.1f * llm_rng_normal(rng);
  s->act = malloc(llm_linear_act_bytes(COLS, MAXN));
  s->buf = (llm_linear_buf){s->act};
  return 1;
}

static void drop(setup *s) {
  free(s->w), free(s->x), free(s->bias), free(s->act), free(s->deq);
}

/* out[n, ROWS] for activation rows x[r0, r0 + n). */
static void product(setup *s, int simd, llm_pool *pool, int r0, int n, int with_bias, float *out) {
  llm_exec x = {pool, simd};
  llm_linear(&x, out, ROWS, s->x + (size_t)r0 * COLS, (size_t)n, &s->m, with_bias ? s->bias : NULL, 0, &s->buf);
}

static void check_type(uint32_t type, int simd, llm_rng *rng) {
  setup s;
  CHECK(make(&s, type, rng));
  static const int ns[] = {2, 3, 4, 5, 16, 17, 64, MAXN};
  float *one = malloc((size_t)MAXN * ROWS * sizeof *one), *many = malloc((size_t)MAXN * ROWS * sizeof *many);
  /* every row alone (n = 1), inline */
  for (int r = 0; r < MAXN; r++) product(&s, simd, NULL, r, 1, 1, one + (size_t)r * ROWS);
  int same = 1;
  for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
    int n = ns[k];
    for (int r0 = 0; r0 + n <= MAXN; r0 += n > 16 ? MAXN : 37) {
      for (int threads = 0; threads < 2; threads++) {
        product(&s, simd, threads ? pool2 : NULL, r0, n, 1, many);
        if (memcmp(many, one + (size_t)r0 * ROWS, (size_t)n * ROWS * sizeof *many)) {
          if (same) printf("  %s at level %d: rows %d..%d of a call of %d (%s) differ from each alone\n",
                           llm_qtype_get(type)->name, simd, r0, r0 + n, n, threads ? "2 threads" : "inline");
          same = 0;
        }
      }
    }
  }
  CHECK(same);
  /* close to the float64 product of the dequantized weights (the
  ** activations are rounded to 8 bits for the block types, to halves for
  ** the halves' decode in llama.cpp's way: a relative 2e-2 of the row's
  ** magnitude bounds them all) */
  double worst = 0;
  for (int r = 0; r < MAXN; r += 13)
    for (int j = 0; j < ROWS; j++) {
      double d = s.bias[j], mag = fabs(s.bias[j]);
      for (int i = 0; i < COLS; i++) {
        d += (double)s.x[(size_t)r * COLS + i] * s.deq[(size_t)j * COLS + i];
        mag += fabs((double)s.x[(size_t)r * COLS + i] * s.deq[(size_t)j * COLS + i]);
      }
      double e = fabs(one[(size_t)r * ROWS + j] - d) / mag;
      if (e > worst) worst = e;
    }
  /* (bfloat16 at the AVX512_BF16 level: the activations rounded to
  ** bfloat16, 2^-9 of each product at most) */
  double tol = llm_qtype_get(type)->block > 1                                 ? 2e-2
               : type == LLM_QTYPE_BF16 && simd >= LLM_SIMD_AVX512_BF16 ? 2.5e-3
                                                                              : 1e-5;
  if (!(worst < tol)) printf("  %s at level %d: relative error %.3g\n", llm_qtype_get(type)->name, simd, worst);
  CHECK(worst < tol);
  free(one);
  free(many);
  drop(&s);
}

static void test_rows_are_invariant(void) {
  llm_rng rng;
  llm_rng_seed(&rng, 11);
  for (int simd = LLM_SIMD_SCALAR; simd <= llm_simd_best(); simd++)
    for (size_t t = 0; t < sizeof TYPES / sizeof TYPES[0]; t++) check_type(TYPES[t], simd, &rng);
}

int main(void) {
  llm_err err;
  if (llm_pool_new(2, &pool2, &err)) return 1;
  RUN(test_rows_are_invariant);
  llm_pool_free(pool2);
  return CHECK_DONE();
}
