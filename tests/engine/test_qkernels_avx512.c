/* test_qkernels_avx512.c: the AVX-512 level of the quantized dot products
** (kernels/quant_avx512.c, kernels/qkernels.h) against the portable
** vec_dot of every type it covers.
**
** Weight rows are random bytes in each type's block layout, with the half
** scales set to finite values (and, to reach the integer extremes, rows of
** all-ones bytes); activation rows are random floats converted by the
** activation type's vec_from_float, raw random int8 (with -128, and q8_1's
** s and q8_k's bsums made to match), or all -128 / all 127. Each of
** vec_dot's and vec_dot4's results must be within 1e-5 of the sum of the
** magnitudes of the terms (plus 1e-20) of the portable result, for one
** block, 3 blocks (31 elements for the plain types), 4096 and 4096 + 2
** blocks (4133 elements); rows and activation rows unaligned, the four
** activation rows at an odd stride.
**
** On a CPU without AVX-512 VNNI the kernels cannot run: the test then says
** so and checks that llm_qkernel_level reports a lower level and that
** llm_qkernel_get falls back to that level's kernels. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qkernels.h"
#include "kernels/vec.h"
#include "check.h"
#include "le_bytes.h"

static const uint32_t TYPES[] = {
    LLM_QTYPE_F32,  LLM_QTYPE_F16,  LLM_QTYPE_BF16, LLM_QTYPE_Q4_0, LLM_QTYPE_Q4_1,
    LLM_QTYPE_Q5_0, LLM_QTYPE_Q5_1, LLM_QTYPE_Q8_0, LLM_QTYPE_Q2_K, LLM_QTYPE_Q3_K,
    LLM_QTYPE_Q4_K, LLM_QTYPE_Q5_K, LLM_QTYPE_Q6_K,
};
#define N_TYPES (sizeof TYPES / sizeof *TYPES)

/* ---- random rows -------------------------------------------------------------- */

static uint32_t next_u32(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return (uint32_t)((*s * 0x2545F4914F6CDD1Dull) >> 32);
}

static float uniform(uint64_t *s) { /* [-1, 1) */
  return (float)next_u32(s) / 2147483648.0f - 1.0f;
}

static void put_half(uint8_t *p, float f) {
  uint16_t h = llm_f32_to_f16(f);
  p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

/* The offsets of a block type's half scales (d, and m or dmin); returns how many. */
static int scale_fields(uint32_t type, int at[2]) {
  switch (type) {
    case LLM_QTYPE_Q4_1: case LLM_QTYPE_Q5_1: case LLM_QTYPE_Q4_K: case LLM_QTYPE_Q5_K:
      at[0] = 0, at[1] = 2;
      return 2;
    case LLM_QTYPE_Q2_K: at[0] = 80, at[1] = 82; return 2;
    case LLM_QTYPE_Q3_K: at[0] = 108; return 1;
    case LLM_QTYPE_Q6_K: at[0] = 208; return 1;
    default: at[0] = 0; return 1; /* q4_0, q5_0, q8_0 */
  }
}

/* weight rows: random bytes, or all 0xff (the largest integers); the plain
** types: random floats, or 100 times larger */
enum { W_RANDOM, W_ONES, W_MODES };

static void fill_weights(uint32_t type, uint8_t *w, int64_t n, int mode, uint64_t *s) {
  const llm_qtype *q = llm_qtype_get(type);
  if (q->block == 1) { /* the plain types: random floats, converted */
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) return;
    for (int64_t i = 0; i < n; i++) x[i] = uniform(s) * (mode == W_ONES ? 100.0f : 1.0f);
    q->from_float(x, w, n);
    free(x);
    return;
  }
  int at[2], fields = scale_fields(type, at);
  for (int64_t b = 0; b < n / q->block; b++) {
    uint8_t *blk = w + b * q->block_bytes;
    for (uint32_t i = 0; i < q->block_bytes; i++) blk[i] = mode == W_ONES ? 0xff : (uint8_t)next_u32(s);
    for (int f = 0; f < fields; f++) put_half(blk + at[f], (0.5f + uniform(s)) * 0.01f);
  }
}

/* activation rows: vec_from_float of random floats, raw random int8,
** all -128, all 127 (the last three for the q8 types only) */
enum { A_FLOATS, A_RAW, A_LOWEST, A_HIGHEST, A_MODES };

/* Raw q8 activation blocks: int8 by mode, a random d, and the sums the
** type keeps (q8_1's s = d * sum, q8_k's bsums of 16) made to match. */
static void fill_raw(uint32_t type, uint8_t *a, int64_t n, int mode, uint64_t *s) {
  int block = type == LLM_QTYPE_Q8_K ? 256 : 32, bytes = llm_qtype_get(type)->block_bytes;
  int qs = type == LLM_QTYPE_Q8_0 ? 2 : 4;
  for (int64_t b = 0; b < n / block; b++) {
    uint8_t *blk = a + b * bytes;
    float d = (0.5f + uniform(s)) * 0.02f;
    int sum = 0;
    for (int j = 0; j < block; j++) {
      int8_t v = mode == A_LOWEST ? -128 : mode == A_HIGHEST ? 127 : (int8_t)next_u32(s);
      blk[qs + j] = (uint8_t)v;
      sum += v;
    }
    if (type == LLM_QTYPE_Q8_K) {
      memcpy(blk, &d, sizeof d);
      for (int g = 0; g < 16; g++) {
        int16_t gs = 0;
        for (int j = 0; j < 16; j++) gs = (int16_t)(gs + (int8_t)blk[4 + 16 * g + j]);
        blk[260 + 2 * g] = (uint8_t)gs, blk[261 + 2 * g] = (uint8_t)((uint16_t)gs >> 8);
      }
    } else {
      put_half(blk, d);
      if (type == LLM_QTYPE_Q8_1) put_half(blk + 2, llm_f16_to_f32(llm_f32_to_f16(d)) * sum);
    }
  }
}

static void fill_act(uint32_t type, uint8_t *a, int64_t n, int mode, uint64_t *s) {
  if (mode != A_FLOATS) {
    fill_raw(type, a, n, mode, s);
    return;
  }
  float *x = malloc((size_t)n * sizeof *x);
  if (!x) return;
  float scale = next_u32(s) % 2 ? 1.0f : 30.0f;
  for (int64_t i = 0; i < n; i++) x[i] = uniform(s) * scale;
  llm_qtype_get(type)->vec_from_float(x, a, n);
  free(x);
}

/* ---- the magnitude of a dot's terms --------------------------------------------- */

/* The activation row's values (the q8 types: d * q). */
static void act_values(uint32_t type, const uint8_t *a, int64_t n, float *out) {
  const llm_qtype *q = llm_qtype_get(type);
  if (q->to_float) {
    q->to_float(a, out, n);
    return;
  }
  int block = type == LLM_QTYPE_Q8_K ? 256 : 32, qs = type == LLM_QTYPE_Q8_0 ? 2 : 4;
  for (int64_t i = 0; i < n; i++) {
    const uint8_t *blk = a + i / block * q->block_bytes;
    float d = type == LLM_QTYPE_Q8_K ? f32_at(blk) : llm_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
    out[i] = d * (int8_t)blk[qs + i % block];
  }
}

/* sum |w_i * a_i|, plus for q8_1 activations the |m * s| each block adds. */
static double magnitude(uint32_t type, const uint8_t *w, const uint8_t *a, int64_t n) {
  const llm_qtype *q = llm_qtype_get(type), *aq = llm_qtype_get(q->vec_type);
  float *wf = malloc((size_t)n * sizeof *wf), *af = malloc((size_t)n * sizeof *af);
  double mag = 0.0;
  if (wf && af) {
    q->to_float(w, wf, n);
    act_values(q->vec_type, a, n, af);
    for (int64_t i = 0; i < n; i++) mag += fabs((double)wf[i] * af[i]);
    if (q->vec_type == LLM_QTYPE_Q8_1)
      for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *wb = w + b * q->block_bytes, *ab = a + b * aq->block_bytes;
        mag += fabs((double)llm_f16_to_f32((uint16_t)(wb[2] | wb[3] << 8)) *
                    llm_f16_to_f32((uint16_t)(ab[2] | ab[3] << 8)));
      }
  } else {
    mag = NAN;
  }
  free(wf);
  free(af);
  return mag;
}

/* ---- the tests ------------------------------------------------------------------- */

/* The worst |simd - portable| / magnitude seen, per type. */
static double worst[LLM_QTYPE_COUNT];

static int close_enough(uint32_t type, float got, float want, double mag, const char *what,
                        int64_t n, int wmode, int amode) {
  double err = fabs((double)got - want);
  if (mag > 0 && err / mag > worst[type]) worst[type] = err / mag;
  if (err <= 1e-5 * mag + 1e-20) return 1;
  printf("  %s %s n %lld weights %d activations %d: %.9g, portable %.9g (terms %.3g)\n",
         llm_qtype_get(type)->name, what, (long long)n, wmode, amode, got, want, mag);
  return 0;
}

/* One weight row of n against four activation rows, in every mode. */
static void check_type(uint32_t type, int64_t n, uint64_t *s) {
  const llm_qtype *q = llm_qtype_get(type), *aq = llm_qtype_get(q->vec_type);
  llm_qkernel simd = llm_qkernels_avx512[type];
  uint64_t wbytes = 0, abytes = 0;
  CHECK(llm_qtype_row_bytes(type, (uint64_t)n, &wbytes) == 0);
  CHECK(llm_qtype_row_bytes(aq->id, (uint64_t)n, &abytes) == 0);
  size_t stride = (size_t)abytes + 7; /* odd: the rows are unaligned */
  uint8_t *wbuf = malloc(wbytes + 1), *abuf = malloc(4 * stride + 1);
  CHECK(wbuf && abuf && simd.vec_dot && simd.vec_dot4);
  if (!wbuf || !abuf || !simd.vec_dot || !simd.vec_dot4) goto done;
  uint8_t *w = wbuf + 1, *a = abuf + 1;
  int a_modes = aq->block == 1 ? 1 : A_MODES;
  for (int wmode = 0; wmode < W_MODES; wmode++)
    for (int amode = 0; amode < a_modes; amode++) {
      fill_weights(type, w, n, wmode, s);
      for (int r = 0; r < 4; r++) fill_act(aq->id, a + r * stride, n, amode, s);
      float four[4];
      simd.vec_dot4(w, a, stride, n, four);
      for (int r = 0; r < 4; r++) {
        const uint8_t *ar = a + r * stride;
        float want = q->vec_dot(w, ar, n);
        double mag = magnitude(type, w, ar, n);
        CHECK(close_enough(type, simd.vec_dot(w, ar, n), want, mag, "vec_dot", n, wmode, amode));
        CHECK(close_enough(type, four[r], want, mag, "vec_dot4", n, wmode, amode));
      }
    }
done:
  free(wbuf);
  free(abuf);
}

static void test_dots(void) {
  int level = llm_qkernel_level(LLM_SIMD_AVX512);
  if (level < LLM_SIMD_AVX512) {
    printf("  no AVX-512 VNNI here (level %d): kernels not run, see test_levels\n", level);
    CHECK(level < LLM_SIMD_AVX512);
    return;
  }
  printf("  running the AVX-512 (VNNI) kernels\n");
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (size_t t = 0; t < N_TYPES; t++) {
    const llm_qtype *q = llm_qtype_get(TYPES[t]);
    int64_t block = q->block;
    /* one block, 3 (plain types: 16 + 15, a tail one short of the
    ** vector), a long row, a long row and 2 (plain: 37); the 32-element
    ** kernels go by 4 blocks, so their last group has 1, 3, 4 and 2 */
    int64_t sizes[4] = {block, block == 1 ? 31 : 3 * block, 4096,
                        4096 + (block == 1 ? 37 : 2 * block)};
    worst[q->id] = 0;
    for (int i = 0; i < 4; i++) check_type(q->id, sizes[i], &s);
    printf("  %-5s worst |avx512 - portable| / sum |terms| = %.2g\n", q->name, worst[q->id]);
  }
}

/* The portable vec_dot4 is four portable vec_dots, exactly. */
static void check_portable4(uint32_t type, llm_qkernel k, uint64_t *s) {
  const llm_qtype *q = llm_qtype_get(type), *aq = llm_qtype_get(q->vec_type);
  int64_t n = 4096;
  uint64_t wbytes = 0, abytes = 0;
  llm_qtype_row_bytes(type, (uint64_t)n, &wbytes);
  llm_qtype_row_bytes(aq->id, (uint64_t)n, &abytes);
  uint8_t *w = malloc(wbytes), *a = malloc(4 * abytes);
  CHECK(w && a);
  if (w && a) {
    fill_weights(type, w, n, W_RANDOM, s);
    for (int r = 0; r < 4; r++) fill_act(aq->id, a + r * abytes, n, A_FLOATS, s);
    float four[4];
    k.vec_dot4(w, a, abytes, n, four);
    for (int r = 0; r < 4; r++) CHECK(four[r] == q->vec_dot(w, a + r * abytes, n));
  }
  free(w);
  free(a);
}

/* llm_qkernel_get: the portable kernels at LLM_SIMD_SCALAR; at this CPU's
** level the AVX-512 ones when it has them, else the level's own. */
static void test_levels(void) {
  int level = llm_qkernel_level(LLM_SIMD_AVX512);
  CHECK(llm_qkernel_level(LLM_SIMD_SCALAR) == LLM_SIMD_SCALAR);
  CHECK(llm_qkernel_level(LLM_SIMD_AVX2) <= LLM_SIMD_AVX2 && llm_qkernel_level(LLM_SIMD_AVX2) <= level);
  printf("  llm_qkernel_level: %d (%s)\n", level,
         level == LLM_SIMD_AVX512 ? "AVX-512 VNNI" : level == LLM_SIMD_AVX2 ? "AVX2" : "scalar");
  uint64_t s = 12345;
  for (size_t t = 0; t < N_TYPES; t++) {
    uint32_t type = TYPES[t];
    llm_qkernel mine = llm_qkernels_avx512[type], scalar = llm_qkernel_get(type, LLM_SIMD_SCALAR);
    llm_qkernel best = llm_qkernel_get(type, level);
    CHECK(mine.vec_dot && mine.vec_dot4);
    CHECK(scalar.vec_dot == llm_qtype_get(type)->vec_dot && scalar.vec_dot4 != mine.vec_dot4);
    check_portable4(type, scalar, &s);
    if (level == LLM_SIMD_AVX512) {
      CHECK(best.vec_dot == mine.vec_dot && best.vec_dot4 == mine.vec_dot4);
    } else { /* the level's own, or the portable ones */
      llm_qkernel avx2 = llm_qkernels_avx2[type];
      llm_qkernel want = level == LLM_SIMD_AVX2 ? avx2 : scalar;
      if (!want.vec_dot) want.vec_dot = scalar.vec_dot;
      if (!want.vec_dot4) want.vec_dot4 = scalar.vec_dot4;
      CHECK(best.vec_dot == want.vec_dot && best.vec_dot4 == want.vec_dot4);
      CHECK(best.vec_dot != mine.vec_dot && best.vec_dot4 != mine.vec_dot4);
    }
  }
}

int main(void) {
  RUN(test_levels);
  RUN(test_dots);
  return CHECK_DONE();
}
