/*
** dotgemm_avx512.c: the AVX-512 levels of llm_dotgemm (see dotgemm.h):
** llm_dotgemm_avx512, tiles of up to 3 x rows by 8 W rows, and
** llm_dotgemm_avx512_bf16, the same but for bfloat16 weights by vdpbf16ps
** (at the end).
**
** An element's accumulator is one zmm: 16 lanes, lane l summing the
** products at k = l, l + 16, ... by FMA; the last K % 16 come through
** masked loads (zeros). The reduction adds lanes l and l + 8, then l and
** l + 4, l and l + 2, l and l + 1: sixteen elements at once (reduce16
** transposes as it adds; a tile of fewer pads with zeros), the same
** additions of the same numbers for each. 24 accumulators, 3 x vectors
** and 1 W vector use 28 of the 32 registers; each x load serves 8 FMAs
** and each W load 3. In L1 the loop runs at about 95% of the FMA peak;
** 3x8 measured as fast as 4x6, 5x5 and 6x4 and faster than 2x8 tiles.
**
** float16 and bfloat16 weights widen to float32 as they load (vcvtph2ps;
** bf16 moved into the high half), which is exact: a product over a W block
** widened once beforehand (widen) gives the same bits.
*/
#include "kernels/dotgemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))
#define INLINE AVX512 static inline __attribute__((always_inline))
#define LANES 16
#define RM 3
#define RN 8
/* The loops over a tile's rows and accumulators must unroll for those to
** stay in registers. Their bounds include the constants RM and RN, not
** only the tile's rm and rn: clang unrolls the loops of tile_body before
** inlining makes rm and rn constants (and spilled every accumulator,
** at a third of the speed, when it could not). */
#define UNROLL _Pragma("GCC unroll 16")

INLINE __mmask16 tail_mask(size_t r) { return (__mmask16)((1u << r) - 1); }

INLINE __m512 widen16(int wt, __m256i h) {
  if (wt == LLM_DOTGEMM_F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* 16 weights of a row from k on. */
INLINE __m512 load_w(int wt, const char *row, size_t k) {
  if (wt == LLM_DOTGEMM_F32) return _mm512_loadu_ps((const float *)row + k);
  return widen16(wt, _mm256_loadu_si256((const __m256i *)(row + 2 * k)));
}

/* The row's last r < 16 weights from k on, zeros after. */
INLINE __m512 load_w_tail(int wt, const char *row, size_t k, size_t r) {
  if (wt == LLM_DOTGEMM_F32)
    return _mm512_maskz_loadu_ps(tail_mask(r), (const float *)row + k);
  uint16_t h[16] = {0};
  memcpy(h, row + 2 * k, 2 * r);
  return widen16(wt, _mm256_loadu_si256((const __m256i *)h));
}

/* One stage of the reduction of two vectors a and b, each holding some
** accumulators' partial sums in groups of 2h lanes: the result holds both
** vectors' groups halved, lane l of a group the sum of lanes l and l + h.
** The lanes that stay put come by a blend, the others by one shuffle. */
INLINE __m512 halve(__m512 a, __m512 b, int h) {
  switch (h) {
    case 8: return _mm512_add_ps(_mm512_mask_blend_ps(0xFF00, a, b), _mm512_shuffle_f32x4(a, b, 0x4E));
    case 4: {
      __m512 t = _mm512_mask_blend_ps(0x0F0F, a, b);
      return _mm512_add_ps(_mm512_mask_blend_ps(0xF0F0, a, b), _mm512_shuffle_f32x4(t, t, 0xB1));
    }
    case 2:
      return _mm512_add_ps(_mm512_mask_blend_ps(0xCCCC, a, b),
                           _mm512_permute_ps(_mm512_mask_blend_ps(0x3333, a, b), 0x4E));
    default:
      return _mm512_add_ps(_mm512_mask_blend_ps(0xAAAA, a, b),
                           _mm512_permute_ps(_mm512_mask_blend_ps(0x5555, a, b), 0xB1));
  }
}

/* The sums of the 16 accumulators a[0..16), lane q holding a[q]'s. */
INLINE __m512 reduce16(const __m512 a[16]) {
  /* The stages leave the (bit-reversed q)-th input's sum in lane q. */
  static const int order[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
  __m512 u[8], v[4], w[2];
  UNROLL
  for (int p = 0; p < 8; p++) u[p] = halve(a[order[2 * p]], a[order[2 * p + 1]], 8);
  UNROLL
  for (int p = 0; p < 4; p++) v[p] = halve(u[2 * p], u[2 * p + 1], 4);
  UNROLL
  for (int p = 0; p < 2; p++) w[p] = halve(v[2 * p], v[2 * p + 1], 2);
  return halve(w[0], w[1], 1);
}

/* The tile's accumulators c[i][j]: zeros for the first chunk, else as the
** last one left them in the state. */
INLINE void start(const llm_dotgemm_tile *t, __m512 c[RM][RN], size_t rm, size_t rn) {
  UNROLL
  for (size_t i = 0; i < RM && i < rm; i++)
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++)
      c[i][j] = t->first ? _mm512_setzero_ps() : _mm512_loadu_ps(t->state + (i * rn + j) * LANES);
}

/* Stores the tile's accumulators c[i][j] in the state, or reduces them and
** writes them out. */
INLINE void finish(const llm_dotgemm_tile *t, __m512 c[RM][RN], size_t rm, size_t rn) {
  if (!t->last) {
    UNROLL
    for (size_t i = 0; i < RM && i < rm; i++)
      UNROLL
      for (size_t j = 0; j < RN && j < rn; j++) _mm512_storeu_ps(t->state + (i * rn + j) * LANES, c[i][j]);
    return;
  }
  /* gathered in a flat array at i * rn + j (c's indices constants even
  ** before inlining, see UNROLL) */
  __m512 a[RM * RN + 16];
  UNROLL
  for (size_t q = 0; q < RM * RN + 16; q++) /* only the reduction's padding: a memset of */
    if (q >= rm * rn && q < (rm * rn + 15) / 16 * 16) a[q] = _mm512_setzero_ps(); /* all was 6% of a tile */
  UNROLL
  for (size_t i = 0; i < RM && i < rm; i++)
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++) a[i * rn + j] = c[i][j];
  float s[RM * RN + 16];
  UNROLL
  for (size_t g = 0; g < RM * RN; g += 16) if (g < rm * rn) _mm512_storeu_ps(s + g, reduce16(a + g));
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
  __m512 c[RM][RN];
  start(t, c, rm, rn);
  if (rm == 1) {
    /* One x row (a decode step): the W rows one after another, so that the
    ** weights stream from memory in address order. Read side by side, as
    ** below, rn rows are rn short streams (a row of 768 floats is 48
    ** lines): from memory that measured half the speed (the 110M shape's
    ** head: 9 against 19 GB/s on one core; 2 or 4 rows side by side no
    ** better than 8). In cache a row's one chain of FMAs costs 10-30%.
    ** The same FMAs into each accumulator, in the same order. */
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++) {
      for (k = 0; k + LANES <= kc; k += LANES)
        c[0][j] = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), load_w(wt, w + j * ldw, k), c[0][j]);
      if (k < kc) c[0][j] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail_mask(kc - k), x + k), load_w_tail(wt, w + j * ldw, k, kc - k), c[0][j]);
    }
    finish(t, c, rm, rn);
    return;
  }
  for (; k + LANES <= kc; k += LANES) {
    __m512 xv[RM];
    UNROLL
    for (size_t i = 0; i < RM && i < rm; i++) xv[i] = _mm512_loadu_ps(x + i * ldx + k);
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++) {
      if (next) _mm_prefetch(next + j * ldw + k * (wt == LLM_DOTGEMM_F32 ? 4 : 2), _MM_HINT_T0);
      __m512 wv = load_w(wt, w + j * ldw, k);
      __asm__("" : "+v"(wv)); /* one load for the 3 FMAs, not 3 folded into them */
      UNROLL
      for (size_t i = 0; i < RM && i < rm; i++) c[i][j] = _mm512_fmadd_ps(xv[i], wv, c[i][j]);
    }
  }
  if (k < kc) {
    __m512 xv[RM];
    UNROLL
    for (size_t i = 0; i < RM && i < rm; i++) xv[i] = _mm512_maskz_loadu_ps(tail_mask(kc - k), x + i * ldx + k);
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++) {
      __m512 wv = load_w_tail(wt, w + j * ldw, k, kc - k);
      UNROLL
      for (size_t i = 0; i < RM && i < rm; i++) c[i][j] = _mm512_fmadd_ps(xv[i], wv, c[i][j]);
    }
  }
  finish(t, c, rm, rn);
}

/* One function per (rows, W rows, weight type), the loops unrolled. */
typedef void tile_fn(const llm_dotgemm_tile *t);
#define TILE(rm, rn, wt) \
  AVX512 static void tile_##rm##_##rn##_##wt(const llm_dotgemm_tile *t) { tile_body(t, rm, rn, wt); }
#define TILES(wt) TILE(1, 1, wt) TILE(1, 8, wt) TILE(2, 1, wt) TILE(2, 8, wt) TILE(3, 1, wt) TILE(3, 8, wt)
TILES(LLM_DOTGEMM_F32)
TILES(LLM_DOTGEMM_F16)
TILES(LLM_DOTGEMM_BF16)
#define TILE_ROW(wt) \
  [wt] = {{tile_1_1_##wt, tile_1_8_##wt}, {tile_2_1_##wt, tile_2_8_##wt}, {tile_3_1_##wt, tile_3_8_##wt}}

static void tile512(const llm_dotgemm_tile *t, size_t rm, size_t rn) {
  static tile_fn *const fns[3][RM][2] = {TILE_ROW(LLM_DOTGEMM_F32), TILE_ROW(LLM_DOTGEMM_F16),
                                         TILE_ROW(LLM_DOTGEMM_BF16)};
  fns[t->wtype][rm - 1][rn == RN](t);
}

AVX512 static void widen512(float *dst, const void *src, int wt, size_t n) {
  size_t k = 0;
  for (; k + LANES <= n; k += LANES) _mm512_storeu_ps(dst + k, load_w(wt, src, k));
  if (k < n) _mm512_mask_storeu_ps(dst + k, tail_mask(n - k), load_w_tail(wt, src, k, n - k));
}

const llm_dotgemm_level llm_dotgemm_avx512 = {LANES, RM, RN, tile512, widen512, NULL};

/* ---- bfloat16 weights by vdpbf16ps (LLM_SIMD_AVX512_BF16) ------------------
**
** The x rows are rounded to bfloat16 (vcvtne2ps2bf16: nearest, ties to
** even; once per block by round_bf16 when the driver has its workspace,
** else as they load: the same bits), and each accumulator lane l takes the
** pairs k = 2l, 2l + 1 (mod 32) of x and W by vdpbf16ps: a pair's products
** are exact in float32, the instruction adds them to the lane. Twice the
** arithmetic of an FMA per instruction, and the weights are read as they
** lie, 32 to a vector. The reduction and the tiles are the float ones;
** the k chunks (KC in dotgemm.c) are multiples of 32. */
#define BF16 __attribute__((target("avx512f,avx2,fma,f16c,avx512bw,avx512bf16")))
#define BF16_INLINE BF16 static inline __attribute__((always_inline))
#define PAIRS 32

/* 32 bfloat16 of a row from k on (the first r < 32 of them, zeros after). */
BF16_INLINE __m512bh load_bf16(const void *row, size_t k, size_t r) {
  __mmask32 m = r >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << r) - 1);
  return (__m512bh)_mm512_maskz_loadu_epi16(m, (const uint16_t *)row + k);
}

/* 32 activations from k on (r as above), rounded to bfloat16 pairs, or as
** they were rounded beforehand (rounded). */
BF16_INLINE __m512bh load_x_bf16(int rounded, const float *x, size_t k, size_t r) {
  if (rounded) return load_bf16(x, k, r);
  __mmask16 lo = r >= 16 ? 0xFFFF : tail_mask(r), hi = r >= 32 ? 0xFFFF : r > 16 ? tail_mask(r - 16) : 0;
  return _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, x + k + 16), _mm512_maskz_loadu_ps(lo, x + k));
}

BF16 static void round_bf16_512(uint16_t *dst, const float *src, size_t n) {
  for (size_t k = 0; k < n; k += PAIRS) {
    __mmask32 m = n - k >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << (n - k)) - 1);
    _mm512_mask_storeu_epi16(dst + k, m, (__m512i)load_x_bf16(0, src, k, n - k));
  }
}

BF16_INLINE void tile_body_bf16(const llm_dotgemm_tile *t, const size_t rm, const size_t rn, const int xr) {
  const float *x = t->x;
  const char *w = t->w, *next = t->next_w;
  size_t ldx = t->ldx, ldw = t->ldw, kc = t->kc;
  __m512 c[RM][RN];
  start(t, c, rm, rn);
  if (rm == 1) { /* W rows one after another, as tile_body's */
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++)
      for (size_t k = 0; k < kc; k += PAIRS)
        c[0][j] = _mm512_dpbf16_ps(c[0][j], load_x_bf16(xr, x, k, kc - k), load_bf16(w + j * ldw, k, kc - k));
    finish(t, c, rm, rn);
    return;
  }
  for (size_t k = 0; k < kc; k += PAIRS) {
    __m512bh xv[RM];
    UNROLL
    for (size_t i = 0; i < RM && i < rm; i++) xv[i] = load_x_bf16(xr, x + i * ldx, k, kc - k);
    UNROLL
    for (size_t j = 0; j < RN && j < rn; j++) {
      if (next) _mm_prefetch(next + j * ldw + 2 * k, _MM_HINT_T0);
      __m512bh wv = load_bf16(w + j * ldw, k, kc - k);
      UNROLL
      for (size_t i = 0; i < RM && i < rm; i++) c[i][j] = _mm512_dpbf16_ps(c[i][j], xv[i], wv);
    }
  }
  finish(t, c, rm, rn);
}

#define TILE_BF16(rm, rn, xr) \
  BF16 static void tile_bf16_##rm##_##rn##_##xr(const llm_dotgemm_tile *t) { tile_body_bf16(t, rm, rn, xr); }
#define TILES_BF16(xr) \
  TILE_BF16(1, 1, xr) TILE_BF16(1, 8, xr) TILE_BF16(2, 1, xr) TILE_BF16(2, 8, xr) TILE_BF16(3, 1, xr) TILE_BF16(3, 8, xr)
TILES_BF16(0)
TILES_BF16(1)
#define TILE_BF16_ROW(xr) \
  {{tile_bf16_1_1_##xr, tile_bf16_1_8_##xr}, {tile_bf16_2_1_##xr, tile_bf16_2_8_##xr}, {tile_bf16_3_1_##xr, tile_bf16_3_8_##xr}}

static void tile512_bf16(const llm_dotgemm_tile *t, size_t rm, size_t rn) {
  static tile_fn *const fns[2][RM][2] = {TILE_BF16_ROW(0), TILE_BF16_ROW(1)};
  if (t->wtype == LLM_DOTGEMM_BF16)
    fns[t->x_bf16 != 0][rm - 1][rn == RN](t);
  else
    tile512(t, rm, rn);
}

const llm_dotgemm_level llm_dotgemm_avx512_bf16 = {LANES, RM, RN, tile512_bf16, widen512, round_bf16_512};

#else
const llm_dotgemm_level llm_dotgemm_avx512 = {0}, llm_dotgemm_avx512_bf16 = {0};
#endif
