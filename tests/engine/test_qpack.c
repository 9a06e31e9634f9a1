/* test_qpack.c: q4_k, q5_k, q6_k, q4_0 and q8_0 weights repacked 16 rows
** interleaved (kernels/qpack.h) and the products over them (llm_linear on
** a packed llm_wmat), for each of the five types.
**
** test_read_back: llm_qpack_read gives back every byte of the GGUF layout
** (whole matrix, odd ranges), and llm_wmat_rows of the packed matrix the
** bits of the unpacked one's; only those types with rows a multiple of 16
** fit.
** test_against_double: the portable packed product of random weights (and
** extreme ones: every weight bit set, largest scales and nibbles, q6_k's
** scales at -128 and 127, activations at -128 and 127) within 1e-5 (relative to the sum of
** |terms|) of the type's dot computed in double from its dequantized
** weights (to_float) and the activation's integers.
** test_levels_and_batches: the AVX2 and AVX-512 products (those this CPU has)
** gives the portable one's bits, and each activation row's results are the
** same bits for 1, 3, 5 and 16 rows at different offsets, through
** llm_linear with 1 and 2 threads as well. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qkernels.h"
#include "kernels/qpack.h"
#include "kernels/qtypes.h"
#include "kernels/quant_impl.h"
#include "kernels/vec.h"
#include "rng.h"
#include "nn/linear.h"
#include "pool.h"
#include "check.h"

#define ROWS 48
#define COLS 512
#define NA 16

static const uint32_t TYPES[] = {LLM_QTYPE_Q4_K, LLM_QTYPE_Q5_K, LLM_QTYPE_Q6_K, LLM_QTYPE_Q4_0, LLM_QTYPE_Q8_0};
#define N_TYPES (sizeof TYPES / sizeof *TYPES)

/* Uniform in [-1, 1) from the engine's seeded generator. */
static float uniform(llm_rng *s) { return 2.0f * llm_rng_uniform(s) - 1.0f; }

static const llm_qtype *qt(uint32_t type) { return llm_qtype_get(type); }

static size_t row_bytes(uint32_t type) { return COLS / qt(type)->block * qt(type)->block_bytes; }

/* The activation rows the type's product reads: q8_K (q4_k) or q8_0 rows,
** their bytes per row; prepared (llm_qpack_prepare) at most prep_bytes. */
static uint32_t act_type(uint32_t type) { return qt(type)->vec_type; }
static size_t act_bytes(uint32_t type) { return COLS / qt(act_type(type))->block * qt(act_type(type))->block_bytes; }
static size_t prep_bytes(void) { return llm_qkernel_prep_bytes(COLS); }

/* Random rows; extreme: every byte after the scales set (largest scales,
** mins and nibbles; q8_0: -1) with small finite d (and dmin); q6_k: every
** weight 63 - 32, its int8 scales alternately -128 and 127. */
static void make_weights(uint32_t type, uint8_t *w, int extreme, llm_rng *s) {
  float x[COLS];
  for (int r = 0; r < ROWS; r++) {
    for (int j = 0; j < COLS; j++) x[j] = uniform(s) * (float)(r % 5 + 1);
    qt(type)->from_float(x, w + (size_t)r * row_bytes(type), COLS);
  }
  if (!extreme) return;
  if (type == LLM_QTYPE_Q6_K) {
    for (size_t b = 0; b < ROWS * row_bytes(type) / 210; b++) {
      uint8_t *blk = w + b * 210;
      memset(blk, 0xff, 192);
      for (int k = 0; k < 16; k++) blk[192 + k] = k % 2 ? 127 : 0x80;
      uint16_t d = llm_f32_to_f16(0.01f + 0.001f * (float)(b % 7));
      memcpy(blk + 208, &d, 2);
    }
    return;
  }
  int bb = (int)qt(type)->block_bytes, halves = type == LLM_QTYPE_Q4_K || type == LLM_QTYPE_Q5_K ? 2 : 1;
  for (size_t b = 0; b < ROWS * row_bytes(type) / (size_t)bb; b++) {
    uint8_t *blk = w + b * (size_t)bb;
    memset(blk + 2 * halves, 0xff, (size_t)(bb - 2 * halves));
    for (int h = 0; h < halves; h++) {
      uint16_t d = llm_f32_to_f16(0.01f + 0.001f * (float)(b % 7) + 0.01f * (float)h);
      memcpy(blk + 2 * h, &d, 2);
    }
  }
}

/* NA activation rows (the type's activation type); extreme: values that
** quantize to -128 and 127. */
static void make_acts(uint32_t type, uint8_t *a, int extreme, llm_rng *s) {
  float x[COLS];
  for (int r = 0; r < NA; r++) {
    for (int j = 0; j < COLS; j++) x[j] = extreme ? (j % 3 ? -1.0f : 127.0f / 128.0f) : uniform(s);
    qt(act_type(type))->vec_from_float(x, a + (size_t)r * act_bytes(type), COLS);
  }
}

/* The rows as the product reads them: prepared, or as they are. */
static const uint8_t *product_acts(uint32_t type, const uint8_t *a, uint8_t *prep, size_t *stride) {
  llm_qpack_prepare_fn f = llm_qpack_prepare(type);
  if (!f) return *stride = act_bytes(type), a;
  for (int r = 0; r < NA; r++) f(a + (size_t)r * act_bytes(type), prep + (size_t)r * prep_bytes(), COLS);
  return *stride = prep_bytes(), prep;
}

static uint8_t *packed_copy(uint32_t type, const uint8_t *w) {
  uint8_t *p = malloc(ROWS * row_bytes(type));
  if (p) {
    memcpy(p, w, ROWS * row_bytes(type));
    if (llm_qpack_rows(type, p, ROWS, row_bytes(type))) free(p), p = NULL;
  }
  return p;
}

static void test_read_back(void) {
  llm_rng s;
  llm_rng_seed(&s, 7);
  for (size_t t = 0; t < N_TYPES; t++) {
    uint32_t type = TYPES[t];
    size_t rb = row_bytes(type), total = ROWS * rb;
    uint8_t *w = malloc(total), *back = malloc(total);
    make_weights(type, w, 0, &s);
    uint8_t *p = packed_copy(type, w);
    CHECK(p && back);
    if (p && back) {
      CHECK(memcmp(p, w, total) != 0); /* it did move bytes */
      llm_qpack_read(type, p, rb, 0, back, total);
      CHECK(memcmp(back, w, total) == 0);
      const uint64_t ranges[][2] = {{1, 3}, {17, 290}, {rb * 17 + 5, 1000}, {total - 7, 7}};
      for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
        memset(back, 0, total);
        llm_qpack_read(type, p, rb, ranges[i][0], back, (size_t)ranges[i][1]);
        CHECK(memcmp(back, w + ranges[i][0], (size_t)ranges[i][1]) == 0);
      }
      llm_wmat a, b;
      llm_err err = {0};
      CHECK(!llm_wmat_init(&a, "w", w, type, ROWS, COLS, &err));
      b = a, b.data = p, b.packed = 1;
      float *fa = malloc(sizeof(float) * 5 * COLS), *fb = malloc(sizeof(float) * 5 * COLS);
      if (fa && fb) {
        llm_wmat_rows(&a, 17, 22, fa);
        llm_wmat_rows(&b, 17, 22, fb);
        CHECK(memcmp(fa, fb, sizeof(float) * 5 * COLS) == 0);
      }
      free(fa), free(fb);
    }
    CHECK(llm_qpack_fits(type, 32, 256) && !llm_qpack_fits(type, 40, 256));
    free(w), free(back), free(p);
  }
  CHECK(!llm_qpack_fits(LLM_QTYPE_Q3_K, 32, 256) && !llm_qpack_fits(LLM_QTYPE_Q4_1, 32, 256) &&
        !llm_qpack_fits(LLM_QTYPE_Q4_0, 32, 48));
}

/* The dot of weight row w with activation row a in double, and the sum
** of the magnitudes of its terms. */
static double dot_double(uint32_t type, const uint8_t *w, const uint8_t *a, double *mag) {
  double sum = 0;
  *mag = 0;
  if (type == LLM_QTYPE_Q4_0 || type == LLM_QTYPE_Q8_0) { /* q4_0, q8_0: the weights dequantize exactly (d times a small integer) */
    float x[32];
    for (int b = 0; b < COLS / 32; b++, w += qt(type)->block_bytes, a += LLM_Q8_0_BYTES) {
      qt(type)->to_float(w, x, 32);
      double da = llm_half_at(a);
      for (int e = 0; e < 32; e++) {
        double term = (double)x[e] * (int8_t)a[2 + e] * da;
        sum += term, *mag += fabs(term);
      }
    }
    return sum;
  }
  for (int b = 0; b < COLS / LLM_QK_K; b++, w += qt(type)->block_bytes, a += LLM_Q8_K_BYTES) {
    llm_k_block k;
    (type == LLM_QTYPE_Q4_K ? llm_q4_k_unpack : type == LLM_QTYPE_Q5_K ? llm_q5_k_unpack : llm_q6_k_unpack)(w, &k);
    float da;
    memcpy(&da, a, 4);
    const int8_t *aq = (const int8_t *)(a + 4);
    for (int sb = 0; sb < LLM_QK_K / k.sub; sb++) {
      double dot = 0, asum = 0;
      for (int e = 0; e < k.sub; e++)
        dot += (double)k.q[k.sub * sb + e] * aq[k.sub * sb + e], asum += aq[k.sub * sb + e];
      double t1 = (double)k.d * da * k.scale[sb] * dot, t2 = (double)k.dmin * da * k.min[sb] * asum;
      sum += t1 - t2;
      *mag += fabs(t1) + fabs(t2);
    }
  }
  return sum;
}

static void test_against_double(void) {
  llm_rng s;
  llm_rng_seed(&s, 11);
  for (size_t t = 0; t < N_TYPES; t++)
    for (int extreme = 0; extreme < 2; extreme++) {
      uint32_t type = TYPES[t];
      uint8_t *w = malloc(ROWS * row_bytes(type)), *a = malloc(NA * act_bytes(type)), *prep = malloc(NA * prep_bytes());
      float *out = calloc(NA * ROWS, sizeof *out);
      make_weights(type, w, extreme, &s);
      make_acts(type, a, extreme, &s);
      uint8_t *p = packed_copy(type, w);
      CHECK(p && out && prep);
      if (p && out && prep) {
        size_t as;
        const uint8_t *pa = product_acts(type, a, prep, &as);
        llm_qpack_product(type, LLM_SIMD_SCALAR)(p, ROWS / 16, row_bytes(type), pa, as, NA, COLS, out, ROWS);
        int bad = 0;
        for (int r = 0; r < NA; r++)
          for (int i = 0; i < ROWS; i++) {
            double mag, want = dot_double(type, w + (size_t)i * row_bytes(type), a + (size_t)r * act_bytes(type), &mag);
            if (fabs(out[r * ROWS + i] - want) > 1e-5 * mag + 1e-30 && bad++ < 3)
              printf("  %s extreme %d act %d row %d: %.9g, want %.9g\n", qt(type)->name, extreme, r, i,
                     (double)out[r * ROWS + i], want);
          }
        CHECK(bad == 0);
      }
      free(w), free(a), free(prep), free(out), free(p);
    }
}

static void test_levels_and_batches(void) {
  llm_rng s;
  llm_rng_seed(&s, 13);
  for (size_t t = 0; t < N_TYPES; t++) {
    uint32_t type = TYPES[t];
    uint8_t *w = malloc(ROWS * row_bytes(type)), *a = malloc(NA * act_bytes(type)), *prep = malloc(NA * prep_bytes());
    float *x = malloc(sizeof(float) * NA * COLS), *want = calloc(NA * ROWS, sizeof(float)),
          *got = malloc(sizeof(float) * NA * ROWS);
    void *act = malloc(llm_linear_act_bytes(COLS, NA));
    make_weights(type, w, 0, &s);
    uint8_t *p = packed_copy(type, w);
    CHECK(p && x && want && got && prep && act);
    if (p && x && want && got && prep && act) {
      for (int i = 0; i < NA * COLS; i++) x[i] = uniform(&s);
      for (int r = 0; r < NA; r++)
        qt(act_type(type))->vec_from_float(x + r * COLS, a + (size_t)r * act_bytes(type), COLS);
      size_t as;
      const uint8_t *pa = product_acts(type, a, prep, &as);
      llm_qpack_product(type, LLM_SIMD_SCALAR)(p, ROWS / 16, row_bytes(type), pa, as, NA, COLS, want, ROWS);
      /* every level this CPU has, over sub-ranges of the rows */
      const size_t subs[][2] = {{0, 1}, {3, 3}, {5, 5}, {0, 16}, {15, 1}};
      for (int simd = LLM_SIMD_SCALAR; simd <= llm_simd_best(); simd++) {
        llm_qpack_product_fn f = llm_qpack_product(type, simd);
        for (size_t k = 0; k < sizeof subs / sizeof *subs; k++) {
          size_t r0 = subs[k][0], na = subs[k][1];
          memset(got, 0, sizeof(float) * NA * ROWS);
          f(p, ROWS / 16, row_bytes(type), pa + r0 * as, as, na, COLS, got + r0 * ROWS, ROWS);
          CHECK(memcmp(got + r0 * ROWS, want + r0 * ROWS, sizeof(float) * na * ROWS) == 0);
        }
      }
      /* through llm_linear: the same bits with 1 and 2 threads, at the best
      ** level, for 16 rows and for 1 */
      llm_wmat m;
      llm_err err = {0};
      CHECK(!llm_wmat_init(&m, "w", p, type, ROWS, COLS, &err));
      m.packed = 1;
      llm_linear_buf buf = {act};
      for (int threads = 1; threads <= 2; threads++) {
        llm_pool *pool = NULL;
        CHECK(!llm_pool_new(threads, &pool, &err));
        llm_exec ex = {pool, llm_simd_best()};
        llm_linear(&ex, got, ROWS, x, NA, &m, NULL, 0, &buf);
        CHECK(memcmp(got, want, sizeof(float) * NA * ROWS) == 0);
        llm_linear(&ex, got, ROWS, x + 7 * COLS, 1, &m, NULL, 0, &buf);
        CHECK(memcmp(got, want + 7 * ROWS, sizeof(float) * ROWS) == 0);
        llm_pool_free(pool);
      }
    }
    free(w), free(a), free(prep), free(x), free(want), free(got), free(p), free(act);
  }
}

int main(void) {
  RUN(test_read_back);
  RUN(test_against_double);
  RUN(test_levels_and_batches);
  return CHECK_DONE();
}
