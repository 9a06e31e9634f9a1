/* test_qpack.c: q4_k weights repacked 16 rows interleaved (kernels/qpack.h)
** and the products over them (llm_linear on a packed llm_wmat).
**
** test_read_back: llm_qpack_read gives back every byte of the GGUF layout
** (whole matrix, odd ranges), and llm_wmat_rows of the packed matrix the
** bits of the unpacked one's; only q4_k with rows a multiple of 16 fits.
** test_against_double: the portable packed product of random weights (and
** extreme ones: largest scales and nibbles, activations at -128 and 127)
** within 1e-5 (relative to the sum of |terms|) of the same integer dot
** computed in double from llm_q4_k_unpack and the q8_K bytes.
** test_levels_and_batches: the AVX-512 product (when this CPU has it)
** gives the portable one's bits, and each activation row's results are the
** same bits for 1, 3, 5 and 16 rows at different offsets, through
** llm_linear with 1 and 2 threads as well. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qpack.h"
#include "kernels/qtypes.h"
#include "kernels/quant_impl.h"
#include "kernels/vec.h"
#include "nn/linear.h"
#include "pool.h"
#include "check.h"

#define ROWS 48
#define COLS 512
#define NA 16

static uint32_t next_u32(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return (uint32_t)((*s * 0x2545F4914F6CDD1Dull) >> 32);
}

static float uniform(uint64_t *s) { return (float)next_u32(s) / 2147483648.0f - 1.0f; }

static size_t row_bytes(void) { return COLS / LLM_QK_K * 144; }

/* Random q4_k rows; extreme: every byte of the scales and nibbles set
** (scale and min 63, q 15) with random finite d and dmin. */
static void make_weights(uint8_t *w, int extreme, uint64_t *s) {
  const llm_qtype *q = llm_qtype_get(LLM_QTYPE_Q4_K);
  float x[COLS];
  for (int r = 0; r < ROWS; r++) {
    for (int j = 0; j < COLS; j++) x[j] = uniform(s) * (r % 5 + 1);
    q->from_float(x, w + (size_t)r * row_bytes(), COLS);
  }
  if (!extreme) return;
  for (size_t b = 0; b < ROWS * row_bytes() / 144; b++) {
    uint8_t *blk = w + b * 144;
    memset(blk + 4, 0xff, 140);
    uint16_t d = llm_f32_to_f16(0.01f + 0.001f * (float)(b % 7)), dmin = llm_f32_to_f16(0.02f);
    memcpy(blk, &d, 2), memcpy(blk + 2, &dmin, 2);
  }
}

/* NA q8_K activation rows; extreme: values that quantize to -128 and 127. */
static void make_acts(uint8_t *a, int extreme, uint64_t *s) {
  float x[COLS];
  for (int r = 0; r < NA; r++) {
    for (int j = 0; j < COLS; j++) x[j] = extreme ? (j % 3 ? -1.0f : 127.0f / 128.0f) : uniform(s);
    llm_q8_k_vec_from_float(x, a + (size_t)r * LLM_Q8_K_BYTES * (COLS / LLM_QK_K), COLS);
  }
}

static uint8_t *packed_copy(const uint8_t *w) {
  uint8_t *p = malloc(ROWS * row_bytes());
  if (p) {
    memcpy(p, w, ROWS * row_bytes());
    if (llm_qpack_rows(p, ROWS, row_bytes())) free(p), p = NULL;
  }
  return p;
}

static void test_read_back(void) {
  uint64_t s = 7;
  size_t total = ROWS * row_bytes();
  uint8_t *w = malloc(total), *back = malloc(total);
  make_weights(w, 0, &s);
  uint8_t *p = packed_copy(w);
  CHECK(p && back);
  if (!p || !back) goto done;
  CHECK(memcmp(p, w, total) != 0); /* it did move bytes */
  llm_qpack_read(p, row_bytes(), 0, back, total);
  CHECK(memcmp(back, w, total) == 0);
  const uint64_t ranges[][2] = {{1, 3}, {143, 290}, {row_bytes() * 17 + 5, 1000}, {total - 7, 7}};
  for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
    memset(back, 0, total);
    llm_qpack_read(p, row_bytes(), ranges[i][0], back, (size_t)ranges[i][1]);
    CHECK(memcmp(back, w + ranges[i][0], (size_t)ranges[i][1]) == 0);
  }
  llm_wmat a, b;
  llm_err err = {0};
  CHECK(!llm_wmat_init(&a, "w", w, LLM_QTYPE_Q4_K, ROWS, COLS, &err));
  b = a, b.data = p, b.packed = 1;
  float *fa = malloc(sizeof(float) * 5 * COLS), *fb = malloc(sizeof(float) * 5 * COLS);
  if (fa && fb) {
    llm_wmat_rows(&a, 17, 22, fa);
    llm_wmat_rows(&b, 17, 22, fb);
    CHECK(memcmp(fa, fb, sizeof(float) * 5 * COLS) == 0);
  }
  free(fa), free(fb);
  CHECK(llm_qpack_fits(LLM_QTYPE_Q4_K, 32, 256) && !llm_qpack_fits(LLM_QTYPE_Q4_K, 40, 256) &&
        !llm_qpack_fits(LLM_QTYPE_Q4_0, 32, 256) && !llm_qpack_fits(LLM_QTYPE_Q6_K, 32, 256));
done:
  free(w), free(back), free(p);
}

/* The dot of q4_k row w with q8_K row a in double, and the sum of the
** magnitudes of its terms. */
static double dot_double(const uint8_t *w, const uint8_t *a, double *mag) {
  double sum = 0;
  *mag = 0;
  for (int b = 0; b < COLS / LLM_QK_K; b++, w += 144, a += LLM_Q8_K_BYTES) {
    llm_k_block k;
    llm_q4_k_unpack(w, &k);
    float da;
    memcpy(&da, a, 4);
    const int8_t *aq = (const int8_t *)(a + 4);
    for (int sb = 0; sb < 8; sb++) {
      double dot = 0, asum = 0;
      for (int e = 0; e < 32; e++) dot += (double)k.q[32 * sb + e] * aq[32 * sb + e], asum += aq[32 * sb + e];
      double t1 = (double)k.d * da * k.scale[sb] * dot, t2 = (double)k.dmin * da * k.min[sb] * asum;
      sum += t1 - t2;
      *mag += fabs(t1) + fabs(t2);
    }
  }
  return sum;
}

static void test_against_double(void) {
  uint64_t s = 11;
  size_t ab = LLM_Q8_K_BYTES * (COLS / LLM_QK_K);
  for (int extreme = 0; extreme < 2; extreme++) {
    uint8_t *w = malloc(ROWS * row_bytes()), *a = malloc(NA * ab);
    float *out = calloc(NA * ROWS, sizeof *out);
    make_weights(w, extreme, &s);
    make_acts(a, extreme, &s);
    uint8_t *p = packed_copy(w);
    CHECK(p && out);
    if (p && out) {
      llm_qpack_product(LLM_SIMD_SCALAR)(p, ROWS / 16, row_bytes(), a, ab, NA, COLS, out, ROWS);
      int bad = 0;
      for (int r = 0; r < NA; r++)
        for (int i = 0; i < ROWS; i++) {
          double mag, want = dot_double(w + (size_t)i * row_bytes(), a + (size_t)r * ab, &mag);
          if (fabs(out[r * ROWS + i] - want) > 1e-5 * mag + 1e-30 && bad++ < 3)
            printf("  extreme %d act %d row %d: %.9g, want %.9g\n", extreme, r, i, (double)out[r * ROWS + i], want);
        }
      CHECK(bad == 0);
    }
    free(w), free(a), free(out), free(p);
  }
}

static void test_levels_and_batches(void) {
  uint64_t s = 13;
  size_t ab = LLM_Q8_K_BYTES * (COLS / LLM_QK_K);
  uint8_t *w = malloc(ROWS * row_bytes()), *a = malloc(NA * ab);
  float *x = malloc(sizeof(float) * NA * COLS), *want = calloc(NA * ROWS, sizeof(float)),
        *got = malloc(sizeof(float) * NA * ROWS);
  make_weights(w, 0, &s);
  uint8_t *p = packed_copy(w);
  CHECK(p && x && want && got);
  if (!p || !x || !want || !got) goto done;
  for (int i = 0; i < NA * COLS; i++) x[i] = uniform(&s);
  for (int r = 0; r < NA; r++) llm_q8_k_vec_from_float(x + r * COLS, a + r * ab, COLS);
  llm_qpack_product(LLM_SIMD_SCALAR)(p, ROWS / 16, row_bytes(), a, ab, NA, COLS, want, ROWS);
  /* every level this CPU has, over sub-ranges of the rows */
  const size_t subs[][2] = {{0, 1}, {3, 3}, {5, 5}, {0, 16}, {15, 1}};
  for (int simd = LLM_SIMD_SCALAR; simd <= llm_simd_best(); simd++) {
    llm_qpack_product_fn f = llm_qpack_product(simd);
    for (size_t k = 0; k < sizeof subs / sizeof *subs; k++) {
      size_t r0 = subs[k][0], na = subs[k][1];
      memset(got, 0, sizeof(float) * NA * ROWS);
      f(p, ROWS / 16, row_bytes(), a + r0 * ab, ab, na, COLS, got + r0 * ROWS, ROWS);
      CHECK(memcmp(got + r0 * ROWS, want + r0 * ROWS, sizeof(float) * na * ROWS) == 0);
    }
  }
  /* through llm_linear: a packed matrix gives the same bits with 1 and 2
  ** threads, at the best level, for 1 and 16 rows */
  llm_wmat m;
  llm_err err = {0};
  CHECK(!llm_wmat_init(&m, "w", p, LLM_QTYPE_Q4_K, ROWS, COLS, &err));
  m.packed = 1;
  void *act = malloc(llm_linear_act_bytes(COLS, NA));
  llm_linear_buf buf = {act};
  for (int threads = 1; act && threads <= 2; threads++) {
    llm_pool *pool = NULL;
    CHECK(!llm_pool_new(threads, &pool, &err));
    llm_exec ex = {pool, llm_simd_best()};
    llm_linear(&ex, got, ROWS, x, NA, &m, NULL, 0, &buf);
    CHECK(memcmp(got, want, sizeof(float) * NA * ROWS) == 0);
    llm_linear(&ex, got, ROWS, x + 7 * COLS, 1, &m, NULL, 0, &buf);
    CHECK(memcmp(got, want + 7 * ROWS, sizeof(float) * ROWS) == 0);
    llm_pool_free(pool);
  }
  free(act);
done:
  free(w), free(a), free(x), free(want), free(got), free(p);
}

int main(void) {
  RUN(test_read_back);
  RUN(test_against_double);
  RUN(test_levels_and_batches);
  return CHECK_DONE();
}
