/*
** dotgemm_avx2.c: the AVX2 + FMA level of llm_dotgemm (see dotgemm.h):
** llm_dotgemm_avx2, tiles of up to 3 x rows by 4 W rows.
**
** An element's accumulator is one ymm: 8 lanes, lane l summing the
** products at k = l, l + 8, ... by FMA; the last K % 8 come through masked
** loads (zeros). The reduction adds lanes l and l + 4, then l and l + 2,
** then l and l + 1: eight elements at once (reduce8 transposes as it adds;
** a tile of fewer pads with zeros), the same additions of the same numbers
** for each. 12 accumulators, 3 x vectors and 1 W vector fill the 16
** registers; in the real product it runs at about 87% of the 8-lane FMA
** peak.
**
** float16 (F16C, which every AVX2 CPU has) and bfloat16 weights widen to
** float32 as they load, exactly, so a W block widened once beforehand
** (widen) gives the same bits.
*/
#include "kernels/dotgemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define INLINE AVX2 static inline __attribute__((always_inline))
#define LANES 8
#define RM 3
#define RN 4
/* The loops over a tile's rows and accumulators must unroll for those to
** stay in registers. Their bounds include the constants RM and RN, not
** only the tile's rm and rn: clang unrolls the loops of tile_body before
** inlining makes rm and rn constants (and spilled every accumulator,
** at a third of the speed, when it could not). */
#define UNROLL _Pragma("GCC unroll 16")

/* Masked loads take the sign bits of the lanes: the first r set. */
static const int32_t tail_bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

INLINE __m256i tail_mask(size_t r) { return _mm256_loadu_si256((const __m256i *)(tail_bits + 8 - r)); }

INLINE __m256 widen8(int wt, __m128i h) {
  if (wt == LLM_DOTGEMM_F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* 8 weights of a row from k on. */
INLINE __m256 load_w(int wt, const char *row, size_t k) {
  if (wt == LLM_DOTGEMM_F32) return _mm256_loadu_ps((const float *)row + k);
  return widen8(wt, _mm_loadu_si128((const __m128i *)(row + 2 * k)));
}

/* The row's last r < 8 weights from k on, zeros after. */
INLINE __m256 load_w_tail(int wt, const char *row, size_t k, size_t r) {
  if (wt == LLM_DOTGEMM_F32) return _mm256_maskload_ps((const float *)row + k, tail_mask(r));
  uint16_t h[8] = {0};
  memcpy(h, row + 2 * k, 2 * r);
  return widen8(wt, _mm_loadu_si128((const __m128i *)h));
}

/* The sums of the 8 accumulators a[0..8), lane q holding a[q]'s. */
INLINE __m256 reduce8(const __m256 a[8]) {
  /* Paired so that the last stage leaves the lanes in order: lane 4h + p
  ** of the result comes from the (2p + h)-th input of the tree below. */
  static const int order[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  __m256 u[4], v[2];
  UNROLL
  for (int p = 0; p < 4; p++) { /* lanes l + 4: two accumulators a vector */
    __m256 a0 = a[order[2 * p]], a1 = a[order[2 * p + 1]];
    u[p] = _mm256_add_ps(_mm256_permute2f128_ps(a0, a1, 0x20), _mm256_permute2f128_ps(a0, a1, 0x31));
  }
  UNROLL
  for (int p = 0; p < 2; p++) /* lanes l + 2: four a vector */
    v[p] = _mm256_add_ps(_mm256_shuffle_ps(u[2 * p], u[2 * p + 1], 0x44),
                         _mm256_shuffle_ps(u[2 * p], u[2 * p + 1], 0xEE));
  /* lanes l + 1 */
  return _mm256_add_ps(_mm256_shuffle_ps(v[0], v[1], 0x88), _mm256_shuffle_ps(v[0], v[1], 0xDD));
}

/* Stores the tile's accumulators c[i][j] in the state, or reduces them and
** writes them out. */
INLINE void finish(const llm_dotgemm_tile *t, __m256 c[RM][RN], size_t rm, size_t rn) {
  if (!t->last) {
    UNROLL
    for (size_t i = 0; i < RM && i < rm; i++)
      UNROLL
      for (size_t j = 0; j < RN && j < rn; j++) _mm256_storeu_ps(t->state + (i * rn + j) * LANES, c[i][j]);
    return;
  }
  /* gathered in a flat array at i * rn + j (c's indices constants even
  ** before inlining, see UNROLL) */
  __m256 a[RM * RN + 8];
  UNROLL
  for (size_t q = 0; q < RM * RN + 8; q++) /* only the reduction's padding: a memset of */
    if (q >= rm * rn && q < (rm * rn + 7) / 8 * 8) a[q] = _mm256_setzero_ps(); /* all was 6% of a tile */
  UNROLL
  for (size_t i = 0; i < RM && i < rm; i++)
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++) a[i * rn + j] = c[i][j];
  float s[RM * RN + 8];
  UNROLL
  for (size_t g = 0; g < RM * RN; g += 8) if (g < rm * rn) _mm256_storeu_ps(s + g, reduce8(a + g));
  UNROLL
  for (size_t i = 0; i < RM && i < rm; i++) {
    float *o = t->out + i * t->ldo;
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++) o[j] = t->acc ? o[j] + s[i * rn + j] : s[i * rn + j];
  }
}

INLINE void tile_body(const llm_dotgemm_tile *t, const size_t rm, const size_t rn, const int wt) {
  const float *x = t->x;
  const char *w = t->w, *next = t->next_w;
  size_t ldx = t->ldx, ldw = t->ldw, kc = t->kc, k = 0;
  __m256 c[RM][RN];
  UNROLL
  for (size_t i = 0; i < RM && i < rm; i++)
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++)
      c[i][j] = t->first ? _mm256_setzero_ps() : _mm256_loadu_ps(t->state + (i * rn + j) * LANES);
  if (rm == 1) {
    /* One x row (a decode step): the W rows one after another, so that the
    ** weights stream from memory in address order. Read side by side, as
    ** below, rn rows are rn short streams (a row of 768 floats is 48
    ** lines): from memory that measured 0.6x the speed (the 110M shape's
    ** head: 13.6 against 23.1 GB/s on one core). In cache a row's one
    ** chain of FMAs costs about 45% here (8 lanes an FMA, 33-39 against
    ** 66-70 GB/s), still more than one core reads from memory.
    ** The same FMAs into each accumulator, in the same order. */
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++) {
      for (k = 0; k + LANES <= kc; k += LANES)
        c[0][j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), load_w(wt, w + j * ldw, k), c[0][j]);
      if (k < kc) c[0][j] = _mm256_fmadd_ps(_mm256_maskload_ps(x + k, tail_mask(kc - k)), load_w_tail(wt, w + j * ldw, k, kc - k), c[0][j]);
    }
    finish(t, c, rm, rn);
    return;
  }
  for (; k + LANES <= kc; k += LANES) {
    __m256 xv[RM];
    UNROLL
    for (size_t i = 0; i < RM && i < rm; i++) xv[i] = _mm256_loadu_ps(x + i * ldx + k);
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++) {
      if (next) _mm_prefetch(next + j * ldw + k * (wt == LLM_DOTGEMM_F32 ? 4 : 2), _MM_HINT_T0);
      __m256 wv = load_w(wt, w + j * ldw, k);
      UNROLL
      for (size_t i = 0; i < RM && i < rm; i++) c[i][j] = _mm256_fmadd_ps(xv[i], wv, c[i][j]);
    }
  }
  if (k < kc) {
    __m256 xv[RM];
    UNROLL
    for (size_t i = 0; i < RM && i < rm; i++) xv[i] = _mm256_maskload_ps(x + i * ldx + k, tail_mask(kc - k));
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++) {
      __m256 wv = load_w_tail(wt, w + j * ldw, k, kc - k);
      UNROLL
      for (size_t i = 0; i < RM && i < rm; i++) c[i][j] = _mm256_fmadd_ps(xv[i], wv, c[i][j]);
    }
  }
  finish(t, c, rm, rn);
}

/* One function per (rows, W rows, weight type), the loops unrolled. */
typedef void tile_fn(const llm_dotgemm_tile *t);
#define TILE(rm, rn, wt) \
  AVX2 static void tile_##rm##_##rn##_##wt(const llm_dotgemm_tile *t) { tile_body(t, rm, rn, wt); }
#define TILES(wt) TILE(1, 1, wt) TILE(1, 4, wt) TILE(2, 1, wt) TILE(2, 4, wt) TILE(3, 1, wt) TILE(3, 4, wt)
TILES(LLM_DOTGEMM_F32)
TILES(LLM_DOTGEMM_F16)
TILES(LLM_DOTGEMM_BF16)
#define TILE_ROW(wt) \
  [wt] = {{tile_1_1_##wt, tile_1_4_##wt}, {tile_2_1_##wt, tile_2_4_##wt}, {tile_3_1_##wt, tile_3_4_##wt}}

static void tile256(const llm_dotgemm_tile *t, size_t rm, size_t rn) {
  static tile_fn *const fns[3][RM][2] = {TILE_ROW(LLM_DOTGEMM_F32), TILE_ROW(LLM_DOTGEMM_F16),
                                         TILE_ROW(LLM_DOTGEMM_BF16)};
  fns[t->wtype][rm - 1][rn == RN](t);
}

AVX2 static void widen256(float *dst, const void *src, int wt, size_t n) {
  size_t k = 0;
  for (; k + LANES <= n; k += LANES) _mm256_storeu_ps(dst + k, load_w(wt, src, k));
  if (k < n) _mm256_maskstore_ps(dst + k, tail_mask(n - k), load_w_tail(wt, src, k, n - k));
}

const llm_dotgemm_level llm_dotgemm_avx2 = {LANES, RM, RN, tile256, widen256, NULL};

#else
const llm_dotgemm_level llm_dotgemm_avx2 = {0};
#endif
