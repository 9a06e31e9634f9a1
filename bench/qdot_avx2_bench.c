/*
** qdot_avx2_bench.c: speed of the AVX2 quantized dot products
** (kernels/quant_avx2.c) against the portable ones, per weight type.
**
** For each type: a 4096 x 4096 weight matrix (random blocks with sane
** scales), whose rows are dotted with one activation row (vec_dot: a
** decode step) and with four (vec_dot4: a prompt or a batch), on one
** thread. Prints GB/s of weights read (a matrix's bytes over the time of
** one pass; vec_dot4 reads each weight once for its four rows), portable
** and AVX2, and their ratio; and as the reference, the read bandwidth of
** a plain pass summing the same matrix's bytes (the matrix is 5 to 34 MB:
** on a machine with a large L3 that is cache, not memory, bandwidth).
** Each figure is from the fastest of REPS passes after a warm-up one: the
** machines are shared, and the fastest pass is the least disturbed one.
**
**   build/bench_qdot_avx2_bench [TYPE ...]     (default: all twelve)
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_time.h"
#include "kernels/qkernels.h"
#include "kernels/vec.h"

#define ROWS 4096
#define COLS 4096
#define REPS 5

static const char *const DEFAULT_TYPES[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k",
                                            "q3_k", "q4_k", "q5_k", "q6_k", "f16",  "bf16"};

static volatile float sink_f;
static volatile uint64_t sink_u;

static uint64_t next(uint64_t *s) {
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

static float uniform(uint64_t *s) { return (float)(next(s) >> 40) * 0x1p-23f - 1.0f; }

/* Random blocks whose half-precision scales are all 0.01 (random halves
** would be NaN or inf now and then); f16 and bf16 from random floats. */
static void fill_weights(const llm_qtype *q, uint8_t *w, uint64_t bytes, uint64_t *s) {
  if (q->block == 1) {
    uint64_t n = bytes / q->block_bytes;
    float *x = malloc(n * sizeof *x);
    if (!x) exit(1);
    for (uint64_t i = 0; i < n; i++) x[i] = uniform(s);
    q->from_float(x, w, (int64_t)n);
    free(x);
    return;
  }
  for (uint64_t i = 0; i < bytes; i++) w[i] = (uint8_t)next(s);
  static const struct { uint32_t type; int at[2]; } halves[] = {
      {LLM_QTYPE_Q4_0, {0, 0}},   {LLM_QTYPE_Q4_1, {0, 2}},   {LLM_QTYPE_Q5_0, {0, 0}},
      {LLM_QTYPE_Q5_1, {0, 2}},   {LLM_QTYPE_Q8_0, {0, 0}},   {LLM_QTYPE_Q2_K, {80, 82}},
      {LLM_QTYPE_Q3_K, {108, 108}}, {LLM_QTYPE_Q4_K, {0, 2}}, {LLM_QTYPE_Q5_K, {0, 2}},
      {LLM_QTYPE_Q6_K, {208, 208}},
  };
  uint16_t h = llm_f32_to_f16(0.01f);
  for (size_t t = 0; t < sizeof halves / sizeof *halves; t++)
    if (halves[t].type == q->id)
      for (uint64_t b = 0; b < bytes / q->block_bytes; b++)
        for (int f = 0; f < 2; f++) memcpy(w + b * q->block_bytes + halves[t].at[f], &h, 2);
}

/* One pass: every row against one activation row, or against four. */
static double pass(llm_qkernel k, const uint8_t *w, size_t row_bytes, const uint8_t *act,
                   size_t act_bytes, int four) {
  double t0 = now();
  float sum = 0.0f, out[4];
  for (int r = 0; r < ROWS; r++) {
    if (four) {
      k.vec_dot4(w + (size_t)r * row_bytes, act, act_bytes, COLS, out);
      sum += out[0] + out[3];
    } else {
      sum += k.vec_dot(w + (size_t)r * row_bytes, act, COLS);
    }
  }
  sink_f = sum;
  return now() - t0;
}

static double read_pass(const uint8_t *w, size_t bytes) {
  double t0 = now();
  uint64_t a = 0, b = 0, x, y;
  for (size_t i = 0; i + 16 <= bytes; i += 16) {
    memcpy(&x, w + i, 8), memcpy(&y, w + i + 8, 8);
    a += x, b += y;
  }
  sink_u = a + b;
  return now() - t0;
}

/* GB/s of the matrix over the fastest of REPS passes (after a warm-up). */
static double gbs(llm_qkernel k, const uint8_t *w, size_t row_bytes, const uint8_t *act,
                  size_t act_bytes, int four) {
  double t[REPS];
  pass(k, w, row_bytes, act, act_bytes, four);
  for (int i = 0; i < REPS; i++) t[i] = pass(k, w, row_bytes, act, act_bytes, four);
  double best;
  median(t, REPS, &best);
  return (double)row_bytes * ROWS / best * 1e-9;
}

static int bench(const char *name, int level, uint64_t *s) {
  const llm_qtype *q = llm_qtype_by_name(name);
  if (!q || !q->supported || !q->vec_dot) {
    fprintf(stderr, "unknown or unsupported type %s\n", name);
    return 1;
  }
  const llm_qtype *a = llm_qtype_get(q->vec_type);
  uint64_t row_bytes = 0, act_bytes = 0;
  llm_qtype_row_bytes(q->id, COLS, &row_bytes);
  llm_qtype_row_bytes(a->id, COLS, &act_bytes);
  uint8_t *w = malloc(row_bytes * ROWS), *act = malloc(4 * act_bytes);
  float *x = malloc(COLS * sizeof *x);
  if (!w || !act || !x) return 1;
  fill_weights(q, w, row_bytes * ROWS, s);
  for (int r = 0; r < 4; r++) {
    for (int i = 0; i < COLS; i++) x[i] = uniform(s);
    a->vec_from_float(x, act + r * act_bytes, COLS);
  }
  llm_qkernel portable = llm_qkernel_get(q->id, LLM_SIMD_SCALAR);
  llm_qkernel simd = llm_qkernel_get(q->id, level);
  double t[REPS];
  read_pass(w, row_bytes * ROWS);
  for (int i = 0; i < REPS; i++) t[i] = read_pass(w, row_bytes * ROWS);
  double best;
  median(t, REPS, &best);
  double read = (double)row_bytes * ROWS / best * 1e-9;
  double p1 = gbs(portable, w, row_bytes, act, act_bytes, 0);
  double s1 = gbs(simd, w, row_bytes, act, act_bytes, 0);
  double p4 = gbs(portable, w, row_bytes, act, act_bytes, 1);
  double s4 = gbs(simd, w, row_bytes, act, act_bytes, 1);
  printf("%-5s %5.1f MB  read %5.1f GB/s | vec_dot %6.2f -> %6.2f GB/s (x%5.1f, %3.0f%% of read)"
         " | vec_dot4 %6.2f -> %6.2f GB/s (x%5.1f)\n",
         q->name, row_bytes * ROWS / 1e6, read, p1, s1, s1 / p1, 100 * s1 / read, p4, s4, s4 / p4);
  free(w);
  free(act);
  free(x);
  return 0;
}

int main(int argc, char **argv) {
  int level = llm_qkernel_level(LLM_SIMD_AVX2);
  if (level < LLM_SIMD_AVX2) {
    printf("this CPU has no AVX2 kernels (level %d): nothing to measure\n", level);
    return 0;
  }
  printf("%d x %d weights, one thread; GB/s of weights read, portable -> AVX2 (ratio)\n", ROWS,
         COLS);
  uint64_t s = 0x9e3779b97f4a7c15ULL;
  int fail = 0;
  if (argc > 1)
    for (int i = 1; i < argc; i++) fail |= bench(argv[i], level, &s);
  else
    for (size_t i = 0; i < sizeof DEFAULT_TYPES / sizeof *DEFAULT_TYPES; i++)
      fail |= bench(DEFAULT_TYPES[i], level, &s);
  return fail;
}
