/*
** qdot_avx512_bench.c: speed of the AVX-512 quantized dot products
** (kernels/quant_avx512.c) against the portable ones, the reference.
**
** For each weight type: a 4096 x 4096 matrix of random blocks (half scales
** set to finite values), taken row by row against one activation row
** (vec_dot: generating a token) and against four (vec_dot4: a prompt or a
** batch, the weights read once for four rows). Prints the GB/s of weights
** read (the median of a few passes) and the AVX-512 / portable ratio. The
** matrix is larger than L2 but not than every L3, so this is cache, not
** always DRAM, bandwidth.
**
**   build/bench_qdot_avx512_bench [passes]
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qkernels.h"
#include "kernels/vec.h"
#include "bench_time.h"

#define ROWS 4096
#define COLS 4096
#define MAX_PASSES 15

static uint32_t next_u32(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return (uint32_t)((*s * 0x2545F4914F6CDD1Dull) >> 32);
}

static float uniform(uint64_t *s) { return (float)next_u32(s) / 2147483648.0f - 1.0f; }

/* Random weights: floats converted for the plain types, else random bytes
** with every half scale field (found by type) set to a small value. */
static void fill(const llm_qtype *q, uint8_t *w, uint64_t bytes, uint64_t *s) {
  if (q->block == 1) {
    float x[256];
    for (uint64_t i = 0; i < bytes / q->block_bytes; i += 256) {
      for (int j = 0; j < 256; j++) x[j] = uniform(s);
      q->from_float(x, w + i * q->block_bytes, 256);
    }
    return;
  }
  int at[2] = {0, -1};
  switch (q->id) {
    case LLM_QTYPE_Q4_1: case LLM_QTYPE_Q5_1: case LLM_QTYPE_Q4_K: case LLM_QTYPE_Q5_K: at[1] = 2; break;
    case LLM_QTYPE_Q2_K: at[0] = 80, at[1] = 82; break;
    case LLM_QTYPE_Q3_K: at[0] = 108; break;
    case LLM_QTYPE_Q6_K: at[0] = 208; break;
    default: break;
  }
  for (uint64_t i = 0; i < bytes; i++) w[i] = (uint8_t)next_u32(s);
  for (uint64_t b = 0; b < bytes; b += q->block_bytes)
    for (int f = 0; f < 2; f++)
      if (at[f] >= 0) {
        uint16_t h = llm_f32_to_f16(0.001f + 0.01f * (uniform(s) + 1.0f));
        w[b + (uint64_t)at[f]] = (uint8_t)h, w[b + (uint64_t)at[f] + 1] = (uint8_t)(h >> 8);
      }
}

/* Seconds for one pass over the matrix (median of passes); rows of four
** when k.vec_dot4 is to be timed. */
static double time_pass(llm_qkernel k, int four, const uint8_t *w, uint64_t row_bytes,
                        const uint8_t *act, uint64_t act_bytes, int passes, float *check) {
  double t[MAX_PASSES];
  float sink = 0.0f;
  for (int p = 0; p < passes; p++) {
    double t0 = now();
    for (int r = 0; r < ROWS; r++) {
      const uint8_t *row = w + (uint64_t)r * row_bytes;
      if (four) {
        float out[4];
        k.vec_dot4(row, act, act_bytes, COLS, out);
        sink += out[0] + out[3];
      } else {
        sink += k.vec_dot(row, act, COLS);
      }
    }
    t[p] = now() - t0;
  }
  *check = sink / (float)passes;
  return median(t, passes, NULL);
}

int main(int argc, char **argv) {
  int passes = argc > 1 ? atoi(argv[1]) : 5;
  if (passes < 1 || passes > MAX_PASSES) passes = 5;
  int level = llm_qkernel_level(LLM_SIMD_AVX512);
  if (level < LLM_SIMD_AVX512) {
    printf("this CPU has no AVX-512 VNNI (level %d): nothing to measure\n", level);
    return 0;
  }
  static const uint32_t types[] = {
      LLM_QTYPE_Q4_0, LLM_QTYPE_Q8_0, LLM_QTYPE_Q4_K, LLM_QTYPE_Q5_K, LLM_QTYPE_Q6_K,
      LLM_QTYPE_Q5_0, LLM_QTYPE_Q4_1, LLM_QTYPE_Q5_1, LLM_QTYPE_Q2_K, LLM_QTYPE_Q3_K,
      LLM_QTYPE_F16,  LLM_QTYPE_BF16, LLM_QTYPE_F32,
  };
  printf("%d x %d weights, median of %d passes; GB/s of weights read\n", ROWS, COLS, passes);
  printf("%-5s %7s | %9s %9s %7s | %9s %9s %7s\n", "type", "MB", "dot port", "dot 512", "ratio",
         "dot4 port", "dot4 512", "ratio");
  uint64_t seed = 0x243F6A8885A308D3ull;
  for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
    const llm_qtype *q = llm_qtype_get(types[t]), *aq = llm_qtype_get(q->vec_type);
    uint64_t row_bytes = 0, act_bytes = 0;
    if (llm_qtype_row_bytes(q->id, COLS, &row_bytes) || llm_qtype_row_bytes(aq->id, COLS, &act_bytes))
      return 1;
    uint8_t *w = malloc(row_bytes * ROWS), *act = malloc(4 * act_bytes);
    float x[COLS];
    if (!w || !act) return 1;
    fill(q, w, row_bytes * ROWS, &seed);
    for (int r = 0; r < 4; r++) {
      for (int j = 0; j < COLS; j++) x[j] = uniform(&seed);
      aq->vec_from_float(x, act + r * act_bytes, COLS);
    }
    llm_qkernel portable = llm_qkernel_get(q->id, LLM_SIMD_SCALAR);
    llm_qkernel avx512 = llm_qkernel_get(q->id, LLM_SIMD_AVX512);
    double gb = (double)(row_bytes * ROWS) * 1e-9, secs[4];
    float check[4];
    /* the portable kernels are slow: fewer passes of them */
    int slow = passes < 3 ? passes : 3;
    secs[0] = time_pass(portable, 0, w, row_bytes, act, act_bytes, slow, &check[0]);
    secs[1] = time_pass(avx512, 0, w, row_bytes, act, act_bytes, passes, &check[1]);
    secs[2] = time_pass(portable, 1, w, row_bytes, act, act_bytes, slow, &check[2]);
    secs[3] = time_pass(avx512, 1, w, row_bytes, act, act_bytes, passes, &check[3]);
    printf("%-5s %7.1f | %9.2f %9.2f %6.1fx | %9.2f %9.2f %6.1fx   (sums %.4g %.4g)\n", q->name,
           gb * 1e3, gb / secs[0], gb / secs[1], secs[0] / secs[1], gb / secs[2], gb / secs[3],
           secs[2] / secs[3], (double)check[0], (double)check[1]);
    free(w);
    free(act);
  }
  return 0;
}
