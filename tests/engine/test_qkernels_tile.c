/* test_qkernels_tile.c: vec_dot_tile (kernels/qkernels.h) gives each
** activation row the bits of the level's vec_dot, whatever rows share the
** call (llm_linear built on it: tests/engine/test_linear.c).
**
** test_tile_bits: at every level this CPU runs (portable, AVX2, AVX-512
** VNNI) and for every supported type, 7 weight rows by 19 activation rows
** (beyond every tile shape: edges in both directions) and sub-ranges of
** them (1, 3 and 16 rows at different offsets) must add to out exactly
** the level's vec_dot of each pair; out starts at nonzero values, so the
** kernel must add rather than store. Rows are quantized random floats
** (from_float, vec_from_float, then act_prepare where the level has one) of
** 256 and 4096 + 256 elements, for the 32-element blocks 3 and 130 blocks
** (the AVX-512 kernels go by 4: short last groups).
**
** test_act_from_float: each level's activation quantizer gives the bits of
** the activation type's vec_from_float, on edge cases too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qkernels.h"
#include "kernels/vec.h"
#include "nn/linear.h"
#include "pool.h"
#include "check.h"

static const uint32_t TYPES[] = {
    LLM_QTYPE_F32,  LLM_QTYPE_F16,  LLM_QTYPE_BF16, LLM_QTYPE_Q4_0, LLM_QTYPE_Q4_1,
    LLM_QTYPE_Q5_0, LLM_QTYPE_Q5_1, LLM_QTYPE_Q8_0, LLM_QTYPE_Q2_K, LLM_QTYPE_Q3_K,
    LLM_QTYPE_Q4_K, LLM_QTYPE_Q5_K, LLM_QTYPE_Q6_K,
};
#define N_TYPES (sizeof TYPES / sizeof *TYPES)

static uint32_t next_u32(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return (uint32_t)((*s * 0x2545F4914F6CDD1Dull) >> 32);
}

static void fill_floats(float *x, size_t n, uint64_t *s) { /* [-1, 1) */
  for (size_t i = 0; i < n; i++) x[i] = (float)next_u32(s) / 2147483648.0f - 1.0f;
}

/* rows rows of n elements of type (converted with conv), bytes apart. */
static uint8_t *make_rows(void (*conv)(const float *, void *, int64_t), size_t rows, int64_t n,
                          size_t bytes, uint64_t *s) {
  uint8_t *out = malloc(rows * bytes);
  float *x = malloc((size_t)n * sizeof *x);
  if (out && x)
    for (size_t r = 0; r < rows; r++) {
      fill_floats(x, (size_t)n, s);
      conv(x, out + r * bytes, n);
    }
  free(x);
  return out;
}

#define NW 7
#define NA 19

/* Weight rows [j0, j0 + nw) by activation rows [r0, r0 + na) through the
** tile (which reads the rows prepared, at p, pb bytes each, if the kernels
** prepare them), checked against vec_dot pair by pair. */
static int tile_matches(llm_qkernel k, const uint8_t *w, size_t wb, const uint8_t *a, size_t ab,
                        const uint8_t *p, size_t pb, int64_t n, size_t j0, size_t nw, size_t r0, size_t na) {
  float out[NA][NW];
  for (size_t r = 0; r < NA; r++)
    for (size_t j = 0; j < NW; j++) out[r][j] = 0.25f * (float)(r + 2 * j) - 3.0f;
  k.vec_dot_tile(w + j0 * wb, wb, nw, p + r0 * pb, pb, na, n, &out[r0][j0], NW);
  int ok = 1;
  for (size_t r = 0; r < NA; r++)
    for (size_t j = 0; j < NW; j++) {
      float start = 0.25f * (float)(r + 2 * j) - 3.0f, want = start;
      if (r >= r0 && r < r0 + na && j >= j0 && j < j0 + nw) want += k.vec_dot(w + j * wb, a + r * ab, n);
      if (memcmp(&out[r][j], &want, sizeof want)) ok = 0;
    }
  return ok;
}

static void test_tile_bits(void) {
  uint64_t s = 0x2545F4914F6CDD1Dull;
  int top = llm_qkernel_level(LLM_SIMD_AVX512);
  for (int level = LLM_SIMD_SCALAR; level <= top; level++)
    for (size_t t = 0; t < N_TYPES; t++) {
      const llm_qtype *q = llm_qtype_get(TYPES[t]), *aq = llm_qtype_get(q->vec_type);
      llm_qkernel k = llm_qkernel_get(q->id, level);
      CHECK(k.vec_dot && k.vec_dot4 && k.vec_dot_tile);
      int64_t sizes[2] = {256, 4096 + 256};
      if (q->block == 32) sizes[0] = 96, sizes[1] = 4096 + 64; /* short last quads (3, 2 blocks) */
      for (int si = 0; si < 2; si++) {
        int64_t n = sizes[si];
        uint64_t wb = 0, ab = 0;
        llm_qtype_row_bytes(q->id, (uint64_t)n, &wb);
        llm_qtype_row_bytes(aq->id, (uint64_t)n, &ab);
        uint8_t *w = make_rows(q->from_float, NW, n, (size_t)wb, &s);
        uint8_t *a = make_rows(aq->vec_from_float, NA, n, (size_t)ab, &s);
        size_t pb = k.act_prepare ? llm_qkernel_prep_bytes(n) : (size_t)ab;
        uint8_t *p = k.act_prepare ? malloc(NA * pb) : a;
        CHECK(w && a && p);
        if (w && a && p) {
          if (k.act_prepare)
            for (size_t r = 0; r < NA; r++) k.act_prepare(a + r * ab, p + r * pb, n);
          int ok = tile_matches(k, w, wb, a, ab, p, pb, n, 0, NW, 0, NA);
          const size_t subs[][4] = {{0, 1, 0, 1}, {3, 1, 5, 3}, {1, 5, 2, 16}, {6, 1, 3, 16}, {2, 4, 1, 3}};
          for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
            ok &= tile_matches(k, w, wb, a, ab, p, pb, n, subs[i][0], subs[i][1], subs[i][2], subs[i][3]);
          if (!ok) printf("  level %d %s n=%lld: tile differs from vec_dot\n", level, q->name, (long long)n);
          CHECK(ok);
        }
        if (p != a) free(p);
        free(w);
        free(a);
      }
    }
}

/* act_from_float at every level: the bits of the activation type's
** vec_from_float, on random rows and on blocks of edge cases (ties after
** scaling, equal magnitudes of both signs, zeros of both signs, a NaN, an
** inf, all zero). */
static void test_act_from_float(void) {
  enum { N = 8 * 256 };
  float x[N];
  uint8_t got[N * 4], want[N * 4]; /* f32 takes the most */
  uint64_t s = 5;
  fill_floats(x, N, &s);
  for (int i = 256; i < 512; i++) x[i] = (float)((i % 9) - 4) * 0.5f;   /* ties, -2 and 2 */
  for (int i = 512; i < 768; i++) x[i] = i % 2 ? 1e-3f : -0.0f;
  x[600] = -1e-3f;                                                       /* the first of that size */
  x[800] = __builtin_nanf(""); /* dropped by the x86 amax of q8_0 ... */
  x[864 + 27] = __builtin_nanf(""); /* ... kept (the order of maxps matters) */
  x[1100] = -__builtin_inff();
  for (int i = 1280; i < 1536; i++) x[i] = 0.0f;
  for (int i = 1536; i < N; i++) x[i] *= 1e-30f;                         /* tiny */
  int top = llm_qkernel_level(LLM_SIMD_AVX512);
  for (int level = LLM_SIMD_SCALAR; level <= top; level++)
    for (size_t t = 0; t < N_TYPES; t++) {
      const llm_qtype *q = llm_qtype_get(TYPES[t]), *aq = llm_qtype_get(q->vec_type);
      llm_qkernel k = llm_qkernel_get(q->id, level);
      uint64_t bytes = 0;
      llm_qtype_row_bytes(aq->id, N, &bytes);
      memset(got, 0xa5, sizeof got);
      memset(want, 0x5a, sizeof want);
      k.act_from_float(x, got, N);
      aq->vec_from_float(x, want, N);
      int same = !memcmp(got, want, (size_t)bytes);
      if (!same) printf("  level %d %s: act_from_float differs from %s's vec_from_float\n", level, q->name, aq->name);
      CHECK(same);
    }
}

int main(void) {
  RUN(test_tile_bits);
  RUN(test_act_from_float);
  return CHECK_DONE();
}
