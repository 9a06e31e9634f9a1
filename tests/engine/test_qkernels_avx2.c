/* test_qkernels_avx2.c: the AVX2 level of the quantized dot products
** (kernels/qkernels.h, kernels/quant_avx2.c) against the portable vec_dot
** of each weight type (kernels/qtypes.h).
**
** For every type the level covers: random weight rows (random bytes with
** sane half-precision scales; f16 and bf16 from random floats), ggml's own
** quantized blocks (tests/data/quant/<type>.bin), and rows of extreme
** bytes (every integer at its most negative, most positive, mixed), with
** activation rows converted by the activation type's vec_from_float or,
** for the extremes, written byte by byte (q8 integers of -128 included).
** Both vec_dot and the four outputs of vec_dot4 (rows stride bytes apart,
** stride odd, everything misaligned) must be within
**   |simd - portable| <= 1e-5 * sum_i |w_i * a_i| + 1e-30
** for 1 block, 3 blocks and 4096 elements (f16 and bf16: lengths around 16
** and 32, and past the kernel's 1024-element spans, for the tails). The kernels run only when the CPU has the level; otherwise
** the test checks that the level is reported lower and that
** llm_qkernel_get falls back to the portable kernels. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/qkernels.h"
#include "kernels/vec.h"
#include "le_bytes.h"

static const uint32_t TYPES[] = {
    LLM_QTYPE_F16,  LLM_QTYPE_BF16, LLM_QTYPE_Q4_0, LLM_QTYPE_Q4_1, LLM_QTYPE_Q5_0, LLM_QTYPE_Q5_1,
    LLM_QTYPE_Q8_0, LLM_QTYPE_Q2_K, LLM_QTYPE_Q3_K, LLM_QTYPE_Q4_K, LLM_QTYPE_Q5_K, LLM_QTYPE_Q6_K,
};
#define N_TYPES (sizeof TYPES / sizeof *TYPES)

/* ---- random numbers (xorshift64*) ------------------------------------------------- */

static uint64_t next(uint64_t *s) {
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

static float uniform(uint64_t *s, float lo, float hi) {
  return lo + (hi - lo) * (float)(next(s) >> 40) * 0x1p-24f;
}

static uint16_t u16_at(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

/* ---- rows ------------------------------------------------------------------------------ */

/* The offsets of the half-precision scale fields in a block of type. */
static int half_fields(uint32_t type, int at[2]) {
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

static uint64_t row_bytes(uint32_t type, int64_t n) {
  uint64_t bytes = 0;
  CHECK(llm_qtype_row_bytes(type, (uint64_t)n, &bytes) == 0);
  return bytes;
}

/* Block bytes: random (pattern < 0) or all equal to pattern; then every
** scale field a random half of magnitude 2^-10 .. 2^-4, either sign. f16
** and bf16: from random floats in -2 .. 2 (pattern ignored). */
static void fill_weights(uint32_t type, uint8_t *w, int64_t n, int pattern, uint64_t *s) {
  const llm_qtype *q = llm_qtype_get(type);
  if (q->block == 1) {
    float *x = malloc((size_t)n * sizeof *x);
    CHECK(x != NULL);
    if (!x) return;
    for (int64_t i = 0; i < n; i++) x[i] = uniform(s, -2.0f, 2.0f);
    q->from_float(x, w, n);
    free(x);
    return;
  }
  uint64_t bytes = row_bytes(type, n);
  for (uint64_t i = 0; i < bytes; i++) w[i] = (uint8_t)(pattern < 0 ? next(s) : (uint64_t)pattern);
  int at[2], fields = half_fields(type, at);
  for (uint64_t b = 0; b < bytes / q->block_bytes; b++)
    for (int f = 0; f < fields; f++) {
      float v = ldexpf(uniform(s, 1.0f, 2.0f), (int)(next(s) % 7) - 10);
      put_u16(w + b * q->block_bytes + at[f], llm_f32_to_f16(next(s) & 1 ? v : -v));
    }
}

/* An activation row of type act from random floats: mostly -1 .. 1, with a
** few large ones. */
static void fill_act(uint32_t act, uint8_t *a, int64_t n, uint64_t *s) {
  float *x = malloc((size_t)n * sizeof *x);
  CHECK(x != NULL);
  if (!x) return;
  for (int64_t i = 0; i < n; i++) x[i] = uniform(s, -1.0f, 1.0f) * (next(s) % 16 ? 1.0f : 8.0f);
  llm_qtype_get(act)->vec_from_float(x, a, n);
  free(x);
}

/* An activation row of q8_0, q8_1 or q8_k written directly: the integers
** all equal to value (value < -128: random bytes), sane scales, q8_1's s
** and q8_k's sums made to match. */
static void fill_act_bytes(uint32_t act, uint8_t *a, int64_t n, int value, uint64_t *s) {
  int block = act == LLM_QTYPE_Q8_K ? 256 : 32, at = act == LLM_QTYPE_Q8_0 ? 2 : 4;
  int bytes = (int)llm_qtype_get(act)->block_bytes;
  for (int64_t b = 0; b < n / block; b++, a += bytes) {
    int sum = 0;
    float d = uniform(s, 0.001f, 0.02f);
    for (int j = 0; j < block; j++) {
      int8_t v = (int8_t)(value < -128 ? (int)(next(s) & 255) - 128 : value);
      a[at + j] = (uint8_t)v;
      sum += v;
    }
    if (act == LLM_QTYPE_Q8_K) {
      memcpy(a, &d, sizeof d);
      for (int k = 0; k < 16; k++) {
        int part = 0;
        for (int j = 0; j < 16; j++) part += (int8_t)a[4 + 16 * k + j];
        put_u16(a + 260 + 2 * k, (uint16_t)(int16_t)part);
      }
    } else {
      put_u16(a, llm_f32_to_f16(d));
      if (act == LLM_QTYPE_Q8_1) put_u16(a + 2, llm_f32_to_f16(llm_f16_to_f32(llm_f32_to_f16(d)) * sum));
    }
  }
}

/* Element j of an activation row of type act, as a double. */
static double act_value(uint32_t act, const uint8_t *a, int64_t j) {
  switch (act) {
    case LLM_QTYPE_F16: return llm_f16_to_f32(u16_at(a + 2 * j));
    case LLM_QTYPE_BF16: return llm_bf16_to_f32(u16_at(a + 2 * j));
    case LLM_QTYPE_Q8_0: return llm_f16_to_f32(u16_at(a + j / 32 * 34)) * (int8_t)a[j / 32 * 34 + 2 + j % 32];
    case LLM_QTYPE_Q8_1: return llm_f16_to_f32(u16_at(a + j / 32 * 36)) * (int8_t)a[j / 32 * 36 + 4 + j % 32];
    default: return (double)f32_at(a + j / 256 * 292) * (int8_t)a[j / 256 * 292 + 4 + j % 256];
  }
}

/* sum_i |w_i * a_i| over the dequantized rows; with q8_1 activations the
** q*_1 kernels take m times the block's s, whose magnitude is added. */
static double magnitude(const llm_qtype *q, const uint8_t *w, const uint8_t *a, int64_t n) {
  float *wf = malloc((size_t)n * sizeof *wf);
  double mag = 0.0;
  CHECK(wf != NULL);
  if (!wf) return 0.0;
  q->to_float(w, wf, n);
  for (int64_t j = 0; j < n; j++) mag += fabs(wf[j] * act_value(q->vec_type, a, j));
  if (q->vec_type == LLM_QTYPE_Q8_1)
    for (int64_t b = 0; b < n / 32; b++)
      mag += fabs((double)llm_f16_to_f32(u16_at(w + b * q->block_bytes + 2)) *
                  llm_f16_to_f32(u16_at(a + b * 36 + 2)));
  free(wf);
  return mag;
}

/* ---- comparisons --------------------------------------------------------------------- */

/* The largest |simd - portable| / sum |w_i * a_i| seen per type. */
static double worst[LLM_QTYPE_COUNT];
static int compared[LLM_QTYPE_COUNT];

static void compare(uint32_t type, const uint8_t *w, const uint8_t *act, size_t stride, int64_t n,
                    const char *what) {
  const llm_qtype *q = llm_qtype_get(type);
  llm_qkernel k = llm_qkernel_get(type, LLM_SIMD_AVX2);
  float four[4];
  k.vec_dot4(w, act, stride, n, four);
  for (int r = 0; r < 4; r++) {
    const uint8_t *a = act + (size_t)r * stride;
    float want = q->vec_dot(w, a, n), one = k.vec_dot(w, a, n);
    double mag = magnitude(q, w, a, n), bound = 1e-5 * mag + 1e-30;
    double e1 = fabs((double)one - want), e4 = fabs((double)four[r] - want);
    if (!(e1 <= bound) || !(e4 <= bound))
      printf("  %s %s n=%lld row %d: portable %.9g, vec_dot %.9g, vec_dot4 %.9g (bound %.3g)\n",
             q->name, what, (long long)n, r, want, one, four[r], bound);
    CHECK(e1 <= bound);
    CHECK(e4 <= bound);
    double rel = (e1 > e4 ? e1 : e4) / (mag > 0 ? mag : 1);
    if (rel > worst[type]) worst[type] = rel;
    compared[type]++;
  }
}

/* A buffer of `bytes` bytes starting one byte past malloc's (misaligned),
** freed through free_at; ASan sees reads past its end. */
static uint8_t *alloc_at(uint64_t bytes) {
  uint8_t *p = malloc((size_t)bytes + 1);
  CHECK(p != NULL);
  return p ? p + 1 : NULL;
}

static void free_at(uint8_t *p) { free(p ? p - 1 : NULL); }

/* Weight rows of pattern (see fill_weights) against 4 activation rows:
** from vec_from_float when value is INT32_MIN, else fill_act_bytes'. */
static void compare_case(uint32_t type, int64_t n, int pattern, int value, uint64_t *s) {
  const llm_qtype *q = llm_qtype_get(type);
  uint64_t a_bytes = row_bytes(q->vec_type, n);
  size_t stride = (size_t)a_bytes + 3;
  uint8_t *w = alloc_at(row_bytes(type, n)), *act = alloc_at(3 * stride + a_bytes);
  if (w && act) {
    fill_weights(type, w, n, pattern, s);
    for (int r = 0; r < 4; r++) {
      if (value == INT32_MIN)
        fill_act(q->vec_type, act + r * stride, n, s);
      else
        fill_act_bytes(q->vec_type, act + r * stride, n, value, s);
    }
    char what[48];
    snprintf(what, sizeof what, "weights %d, activations %d", pattern, value);
    compare(type, w, act, stride, n, what);
  }
  free_at(w);
  free_at(act);
}

/* ggml's blocks of tests/data/quant/<type>.bin (format: its SOURCE.md). For
** f16 and bf16 the first 256 values (the rest include infs and NaNs). */
static void compare_ggml_blocks(uint32_t type, uint64_t *s) {
  const llm_qtype *q = llm_qtype_get(type);
  char path[128];
  snprintf(path, sizeof path, "tests/data/quant/%s.bin", q->name);
  FILE *f = fopen(path, "rb");
  uint8_t head[28];
  int ok = f && fread(head, 1, sizeof head, f) == sizeof head && !memcmp(head, "QREF", 4) &&
           u32_at(head + 8) == type;
  int64_t n = ok ? (int64_t)u32_at(head + 12) : 0;
  if (q->block == 1 && n > 256) n = 256;
  uint8_t *w = ok ? alloc_at(row_bytes(type, n)) : NULL;
  ok = w && fread(w, 1, row_bytes(type, n), f) == row_bytes(type, n);
  if (!ok) printf("  %s: missing or malformed\n", path);
  CHECK(ok);
  if (ok) {
    uint64_t a_bytes = row_bytes(q->vec_type, n);
    uint8_t *act = alloc_at(4 * a_bytes);
    for (int r = 0; act && r < 4; r++) fill_act(q->vec_type, act + r * a_bytes, n, s);
    if (act) compare(type, w, act, (size_t)a_bytes, n, "ggml's blocks");
    free_at(act);
  }
  free_at(w);
  if (f) fclose(f);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_table(void) {
  int level = llm_qkernel_level(LLM_SIMD_AVX2);
  printf("  llm_qkernel_level(LLM_SIMD_AVX2) = %d (%s)\n", level,
         level == LLM_SIMD_AVX2 ? "AVX2 kernels checked" : "no AVX2: checking the fallback");
  CHECK(level <= LLM_SIMD_AVX2 && level >= LLM_SIMD_SCALAR);
  CHECK(llm_qkernel_level(LLM_SIMD_SCALAR) == LLM_SIMD_SCALAR);
  for (size_t i = 0; i < N_TYPES; i++) {
    uint32_t t = TYPES[i];
    llm_qkernel portable = llm_qkernel_get(t, LLM_SIMD_SCALAR), got = llm_qkernel_get(t, level);
    CHECK(portable.vec_dot == llm_qtype_get(t)->vec_dot && portable.vec_dot4);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    CHECK(llm_qkernels_avx2[t].vec_dot && llm_qkernels_avx2[t].vec_dot4);
#endif
    if (level == LLM_SIMD_AVX2) {
      CHECK(got.vec_dot == llm_qkernels_avx2[t].vec_dot);
      CHECK(got.vec_dot4 == llm_qkernels_avx2[t].vec_dot4);
      CHECK(got.vec_dot != portable.vec_dot && got.vec_dot4 != portable.vec_dot4);
    } else {
      CHECK(got.vec_dot == portable.vec_dot && got.vec_dot4 == portable.vec_dot4);
    }
  }
  /* Types the level leaves to the portable kernels: f32. */
  llm_qkernel f32 = llm_qkernel_get(LLM_QTYPE_F32, LLM_SIMD_AVX2);
  CHECK(!llm_qkernels_avx2[LLM_QTYPE_F32].vec_dot && f32.vec_dot == llm_qtype_get(LLM_QTYPE_F32)->vec_dot);
}

static void test_random(void) {
  if (llm_qkernel_level(LLM_SIMD_AVX2) < LLM_SIMD_AVX2) return; /* test_table checked why */
  uint64_t s = 0x9e3779b97f4a7c15ULL;
  static const int64_t plain_n[] = {1, 7, 15, 16, 17, 31, 32, 33, 48, 100, 1041, 2053, 4096};
  for (size_t i = 0; i < N_TYPES; i++) {
    const llm_qtype *q = llm_qtype_get(TYPES[i]);
    if (q->block == 1) {
      for (size_t k = 0; k < sizeof plain_n / sizeof *plain_n; k++)
        compare_case(q->id, plain_n[k], -1, INT32_MIN, &s);
    } else {
      int64_t ns[] = {q->block, 3 * (int64_t)q->block, 4096};
      for (int k = 0; k < 3; k++)
        for (int rep = 0; rep < 3; rep++) compare_case(q->id, ns[k], -1, INT32_MIN, &s);
    }
    compare_ggml_blocks(q->id, &s);
  }
}

/* Every weight byte 0x00, 0xff, 0x80, 0x7f or random, against integers all
** -128, all 127, or random (-128 included), where a saturating pair sum
** would show. */
static void test_extremes(void) {
  if (llm_qkernel_level(LLM_SIMD_AVX2) < LLM_SIMD_AVX2) return;
  uint64_t s = 12345;
  static const int patterns[] = {0x00, 0xff, 0x80, 0x7f, -1};
  static const int values[] = {-128, 127, -1000};
  for (size_t i = 0; i < N_TYPES; i++) {
    const llm_qtype *q = llm_qtype_get(TYPES[i]);
    if (q->block == 1) continue;
    for (size_t p = 0; p < sizeof patterns / sizeof *patterns; p++)
      for (size_t v = 0; v < sizeof values / sizeof *values; v++)
        compare_case(q->id, 2 * (int64_t)q->block, patterns[p], values[v], &s);
  }
}

static void test_report(void) {
  if (llm_qkernel_level(LLM_SIMD_AVX2) < LLM_SIMD_AVX2) return;
  for (size_t i = 0; i < N_TYPES; i++) {
    uint32_t t = TYPES[i];
    printf("  %-5s %4d dots, largest |avx2 - portable| / sum |w a|: %.2g\n",
           llm_qtype_get(t)->name, compared[t], worst[t]);
    CHECK(compared[t] > 0);
  }
}

int main(void) {
  RUN(test_table);
  RUN(test_random);
  RUN(test_extremes);
  RUN(test_report);
  return CHECK_DONE();
}
