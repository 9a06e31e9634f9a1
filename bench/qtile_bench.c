/*
** qtile_bench.c: the quantized products as nn/linear.c runs them, at each
** kernel level this CPU has: a weight matrix of 2048 x 2048 random blocks
** against na activation rows (quantized by the level's act_from_float and
** prepared by its act_prepare once, as linear.c does), through the level's
** vec_dot_tile in slices of 64 weight rows, one thread.
**
** q4_k, q5_k, q6_k, q4_0 and q8_0 also repacked 16 rows interleaved
** (kernels/qpack.h, "packed"), as the loader runs them on AVX-512 VNNI CPUs.
** na = 1 is a decode step: GB/s of weights read. na = 16 (a batch of
** generated rows) and na = 64 (a prompt): GOP/s, 2 per weight and row.
** Medians of a few passes. The matrix fits in L2 + L3, so this is the
** kernels' arithmetic rather than DRAM's bandwidth, unless rows is given
** (a matrix of rows x 2048: 32768 rows make 70 MB of q8_0, a decode step's
** stream from memory).
**
**   build/bench_qtile_bench [passes [rows]]
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qkernels.h"
#include "kernels/qpack.h"
#include "kernels/vec.h"
#include "rng.h"
#include "bench_time.h"

#define COLS 2048
#define SLICE 64
#define MAX_ACT 64
#define MAX_PASSES 15

/* Uniform in [-1, 1) from the engine's seeded generator. */
static float uniform(llm_rng *s) { return 2.0f * llm_rng_uniform(s) - 1.0f; }

/* Random weights by quantizing random floats (every scale finite). */
static void fill(const llm_qtype *q, uint8_t *w, uint64_t rows, uint64_t row_bytes, llm_rng *s) {
  static float x[COLS];
  for (uint64_t r = 0; r < rows; r++) {
    for (int j = 0; j < COLS; j++) x[j] = uniform(s);
    q->from_float(x, w + r * row_bytes, COLS);
  }
}

/* Seconds for the product of the matrix with na activation rows (median). */
static size_t ROWS = 2048;

static double time_product(llm_qkernel k, const uint8_t *w, uint64_t row_bytes, const uint8_t *act,
                           size_t act_bytes, size_t na, int passes, float *out) {
  double t[MAX_PASSES];
  for (int p = 0; p < passes; p++) {
    memset(out, 0, sizeof(float) * ROWS * na);
    double t0 = now();
    for (size_t j = 0; j < ROWS; j += SLICE)
      k.vec_dot_tile(w + j * row_bytes, row_bytes, SLICE, act, act_bytes, na, COLS, out + j, ROWS);
    t[p] = now() - t0;
  }
  return median(t, passes, NULL);
}

int main(int argc, char **argv) {
  int passes = argc > 1 ? atoi(argv[1]) : 7;
  if (passes < 1 || passes > MAX_PASSES) passes = 7;
  static const uint32_t types[] = {LLM_QTYPE_Q8_0, LLM_QTYPE_Q4_0, LLM_QTYPE_Q4_1, LLM_QTYPE_Q5_0,
                                   LLM_QTYPE_Q5_1, LLM_QTYPE_Q2_K, LLM_QTYPE_Q3_K, LLM_QTYPE_Q4_K,
                                   LLM_QTYPE_Q5_K, LLM_QTYPE_Q6_K};
  static const size_t nas[] = {1, 16, 64};
  int best = llm_qkernel_level(LLM_SIMD_AVX512);
  printf("%zu x %d weights, one thread, median of %d passes; na=1: GB/s of weights, else GOP/s\n", ROWS,
         COLS, passes);
  printf("%-5s %-6s %9s %9s %9s\n", "type", "level", "na=1", "na=16", "na=64");
  llm_rng seed;
  llm_rng_seed(&seed, 0x243F6A8885A308D3ull);
  static float x[MAX_ACT * COLS];
  if (argc > 2) ROWS = (size_t)atol(argv[2]) / SLICE * SLICE;
  if (ROWS < SLICE) ROWS = SLICE;
  float *out = malloc(sizeof(float) * MAX_ACT * ROWS);
  if (!out) return 1;
  for (size_t i = 0; i < (size_t)MAX_ACT * COLS; i++) x[i] = uniform(&seed);
  for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
    const llm_qtype *q = llm_qtype_get(types[t]), *aq = llm_qtype_get(q->vec_type);
    uint64_t row_bytes = 0, act_bytes = 0;
    if (llm_qtype_row_bytes(q->id, COLS, &row_bytes) || llm_qtype_row_bytes(aq->id, COLS, &act_bytes))
      return 1;
    size_t prep_bytes = llm_qkernel_prep_bytes(COLS);
    uint8_t *w = malloc(row_bytes * ROWS), *act = malloc(MAX_ACT * act_bytes), *prep = malloc(MAX_ACT * prep_bytes);
    if (!w || !act || !prep) return 1;
    fill(q, w, ROWS, row_bytes, &seed);
    for (int level = LLM_SIMD_AVX2; level <= best; level++) {
      llm_qkernel k = llm_qkernel_get(q->id, level);
      for (int r = 0; r < MAX_ACT; r++) {
        k.act_from_float(x + (size_t)r * COLS, act + r * act_bytes, COLS);
        if (k.act_prepare) k.act_prepare(act + r * act_bytes, prep + r * prep_bytes, COLS);
      }
      const uint8_t *a = k.act_prepare ? prep : act;
      size_t as = k.act_prepare ? prep_bytes : act_bytes;
      printf("%-5s %-6s", q->name, level == LLM_SIMD_AVX2 ? "avx2" : "avx512");
      for (size_t i = 0; i < sizeof nas / sizeof *nas; i++) {
        double s = time_product(k, w, row_bytes, a, as, nas[i], passes, out);
        double v = nas[i] == 1 ? (double)(row_bytes * ROWS) / s * 1e-9
                               : 2.0 * ROWS * COLS * (double)nas[i] / s * 1e-9;
        printf(" %9.1f", v);
      }
      printf("\n");
    }
    llm_qpack_product_fn packed = llm_qpack_product(q->id, best);
    if (llm_qpack_fits(q->id, (int64_t)ROWS, COLS) && packed != llm_qpack_product(q->id, LLM_SIMD_SCALAR)) {
      /* the same weights repacked 16 rows interleaved (kernels/qpack.h) */
      llm_qkernel k = llm_qkernel_get(q->id, best);
      llm_qpack_prepare_fn f = llm_qpack_prepare(q->id);
      for (int r = 0; r < MAX_ACT; r++) {
        k.act_from_float(x + (size_t)r * COLS, act + r * act_bytes, COLS);
        if (f) f(act + r * act_bytes, prep + r * prep_bytes, COLS);
      }
      const uint8_t *a = f ? prep : act;
      size_t as = f ? prep_bytes : act_bytes;
      if (llm_qpack_rows(q->id, w, (int64_t)ROWS, row_bytes)) return 1;
      printf("%-5s %-6s", q->name, "packed");
      for (size_t i = 0; i < sizeof nas / sizeof *nas; i++) {
        double secs[MAX_PASSES];
        for (int p = 0; p < passes; p++) {
          double t0 = now();
          for (size_t j = 0; j < ROWS; j += SLICE)
            packed(w + j * row_bytes, SLICE / 16, row_bytes, a, as, nas[i], COLS, out + j, ROWS);
          secs[p] = now() - t0;
        }
        double sec = median(secs, passes, NULL);
        printf(" %9.1f", nas[i] == 1 ? (double)(row_bytes * ROWS) / sec * 1e-9 : 2.0 * ROWS * COLS * (double)nas[i] / sec * 1e-9);
      }
      printf("\n");
    }
    free(w), free(act), free(prep);
  }
  free(out);
  return 0;
}
