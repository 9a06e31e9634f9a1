/*
** qpack_avx2.c: the products over repacked q4_0, q8_0 and q4_k weights
** (qpack.h) with AVX2, for CPUs without AVX-512 VNNI: llm_qpack_product_avx2.
**
** A 256-bit register holds 8 of a group's 16 rows (its first or second
** half: 32 of each 64 bytes of packed weights), so each int32 lane is one
** row's sum, as in qpack_avx512.c. Without vpdpbusd, 4 bytes of 8 rows
** times an activation row's 4 bytes broadcast take vpmaddubsw (unsigned
** by signed bytes, pairs summed to int16) and vpmaddwd by ones (pairs of
** those to int32):
**   - q4_0: the nibbles (0..15) as they are, the activations' offset
**     term (-8 times their sum, prepared) starting each row's sum. A
**     low and a high nibble's pair sums, at most 2 * 15 * 128 each, are
**     added in int16 before the widening.
**   - q8_0: the weights are signed, so their magnitudes go in as the
**     unsigned operand and the activations take the weights' signs
**     (vpsignb); a pair is then at most 2 * 128 * 127. Exact while the
**     activations stay within +-127, which q8_0's quantizer gives for
**     every finite input (-128 only stands for a NaN or an infinity). The
**     prepared offset term (of the +128 the AVX-512 kernel adds) is not
**     used.
**   - q4_k: see tile_k.
** The integer sums are the exact ones every level computes, and the float
** steps (convert, d * da, fma, the add into out) are the same, so results
** are bitwise those of the other levels.
**
** Tiles: 8 rows by 4 activation rows (a half at a time: 8 float and 8
** integer accumulators fill 16 registers), or both halves of a group by
** one activation row (decoding).
*/
#include "kernels/qpack.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

#include "kernels/qtypes.h"
#include "kernels/quant_impl.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define INLINE AVX2 static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 16")
#define TILE_ROWS 4
#define AHEAD 2048 /* bytes of weights asked for ahead (see quant_avx512.c) */

INLINE __m256i bcast32(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

/* The int16 lanes of v summed in pairs into int32 lanes. */
INLINE __m256i pairs_to_i32(__m256i v) { return _mm256_madd_epi16(v, _mm256_set1_epi16(1)); }

/* out[r * ldo + 8 h + i] += the dots of rows 8 h + i of the group chunk at
** w (nb blocks of 32, q4_0 if q4 else q8_0) with activation rows act + r
** * as, r < R, for the H halves h0 .. h0 + H - 1. */
INLINE void tile32(int q4, int R, int h0, int H, const uint8_t *w, const uint8_t *act, size_t as, int64_t nb,
                 float *out, size_t ldo) {
  __m256 acc[2][TILE_ROWS];
  UNROLL for (int h = 0; h < H; h++) UNROLL for (int r = 0; r < R; r++) acc[h][r] = _mm256_setzero_ps();
  const __m256i low = _mm256_set1_epi8(15);
  const size_t gb = LLM_QPACK_ROWS * (q4 ? 18 : 34);
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *g = w + b * gb;
    const uint8_t *a[TILE_ROWS];
    __m256i isum[2][TILE_ROWS];
    UNROLL for (int r = 0; r < R; r++) {
      a[r] = act + (size_t)r * as + b * LLM_QPACK_PREP_BLOCK;
      UNROLL for (int h = 0; h < H; h++) isum[h][r] = q4 ? bcast32(a[r] + 4) : _mm256_setzero_si256();
    }
    if (h0 == 0)
      for (size_t k = 0; k < gb; k += 64) _mm_prefetch((const char *)g + k + AHEAD, _MM_HINT_T0);
    UNROLL for (int c = 0; c < 8; c++) { /* (a constant bound, for the pragma) */
      if (q4 && c >= 4) break;
      UNROLL for (int h = 0; h < H; h++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(g + 32 + 64 * c + 32 * (h0 + h)));
        if (q4) {
          __m256i lo = _mm256_and_si256(q, low), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
          UNROLL for (int r = 0; r < R; r++) {
            __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast32(a[r] + 8 + 4 * c)),
                                         _mm256_maddubs_epi16(hi, bcast32(a[r] + 8 + 16 + 4 * c)));
            isum[h][r] = _mm256_add_epi32(isum[h][r], pairs_to_i32(p));
          }
        } else {
          __m256i mag = _mm256_sign_epi8(q, q);
          UNROLL for (int r = 0; r < R; r++) {
            __m256i x = _mm256_sign_epi8(bcast32(a[r] + 8 + 4 * c), q);
            isum[h][r] = _mm256_add_epi32(isum[h][r], pairs_to_i32(_mm256_maddubs_epi16(mag, x)));
          }
        }
      }
    }
    UNROLL for (int h = 0; h < H; h++) {
      __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(g + 16 * (h0 + h))));
      UNROLL for (int r = 0; r < R; r++) {
        float da;
        memcpy(&da, a[r], sizeof da);
        acc[h][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[h][r]), _mm256_mul_ps(d, _mm256_set1_ps(da)),
                                    acc[h][r]);
      }
    }
  }
  UNROLL for (int h = 0; h < H; h++) UNROLL for (int r = 0; r < R; r++) {
    float *o = out + (size_t)r * ldo + 8 * (h0 + h);
    _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), acc[h][r]));
  }
}

/* The 8 rows' (half h's) 6-bit scales (min: 0) or mins (min: 1) of
** sub-block s as int32 lanes, from the interleaved scale bytes at sc + 8 h
** (qpack.h; the same fields as qpack_avx512.c's scales16). */
INLINE __m256i scales8(const uint8_t *sc, int s, int min) {
#define B(k) _mm_loadl_epi64((const __m128i *)(sc + 16 * (k)))
  __m128i v;
  if (s < 4) {
    v = _mm_and_si128(B(s + 4 * min), _mm_set1_epi8(63));
  } else {
    __m128i low = min ? _mm_srli_epi16(B(s + 4), 4) : B(s + 4);
    __m128i top = _mm_srli_epi16(B(s - 4 + 4 * min), 2); /* bits 6, 7 to 4, 5 */
    v = _mm_or_si128(_mm_and_si128(low, _mm_set1_epi8(15)), _mm_and_si128(top, _mm_set1_epi8(0x30)));
  }
#undef B
  return _mm256_cvtepu8_epi32(v);
}

/* As tile32 for q4_k (super-blocks of 256, q8_K activation rows). A
** sub-block's 8 chunks of pair sums (each at most 2 * 15 * 128) add up in
** int16 before the widening and the scale; the low nibbles' sub-block
** (2 j) and the high ones' (2 j + 1) take a pass each over the chunks, so
** that 4 rows' sums fit the registers. */
INLINE void tile_k(int R, int h0, int H, const uint8_t *w, const uint8_t *act, size_t as, int64_t nb, float *out,
                   size_t ldo) {
  __m256 acc[2][TILE_ROWS];
  UNROLL for (int h = 0; h < H; h++) UNROLL for (int r = 0; r < R; r++) acc[h][r] = _mm256_setzero_ps();
  const __m256i low = _mm256_set1_epi8(15);
  const size_t gb = LLM_QPACK_ROWS * 144;
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *g = w + b * gb;
    if (h0 == 0)
      for (size_t k = 0; k < gb; k += 64) _mm_prefetch((const char *)g + k + AHEAD, _MM_HINT_T0);
    const uint8_t *a[TILE_ROWS];
    UNROLL for (int r = 0; r < R; r++) a[r] = act + (size_t)r * as + b * LLM_Q8_K_BYTES;
    UNROLL for (int h = 0; h < H; h++) {
      const uint8_t *sc = g + 64 + 8 * (h0 + h);
      __m256i isum[TILE_ROWS], msum[TILE_ROWS];
      UNROLL for (int r = 0; r < R; r++) isum[r] = msum[r] = _mm256_setzero_si256();
      UNROLL for (int j = 0; j < 4; j++) UNROLL for (int hi = 0; hi < 2; hi++) {
        __m256i s16[TILE_ROWS];
        UNROLL for (int r = 0; r < R; r++) s16[r] = _mm256_setzero_si256();
        UNROLL for (int c = 0; c < 8; c++) {
          __m256i q = _mm256_loadu_si256((const __m256i *)(g + llm_qpack_k45_qs(0, j, c) + 32 * (h0 + h)));
          q = _mm256_and_si256(hi ? _mm256_srli_epi16(q, 4) : q, low);
          UNROLL for (int r = 0; r < R; r++)
            s16[r] = _mm256_add_epi16(s16[r], _mm256_maddubs_epi16(q, bcast32(a[r] + 4 + 64 * j + 32 * hi + 4 * c)));
        }
        __m256i scale = scales8(sc, 2 * j + hi, 0);
        UNROLL for (int r = 0; r < R; r++)
          isum[r] = _mm256_add_epi32(isum[r], _mm256_mullo_epi32(pairs_to_i32(s16[r]), scale));
      }
      UNROLL for (int s = 0; s < 8; s++) { /* each min twice: once per bsum of 16 */
        __m256i m = scales8(sc, s, 1);
        m = _mm256_or_si256(m, _mm256_slli_epi32(m, 16));
        UNROLL for (int r = 0; r < R; r++)
          msum[r] = _mm256_add_epi32(msum[r], _mm256_madd_epi16(m, bcast32(a[r] + 260 + 4 * s)));
      }
      __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(g + 16 * (h0 + h))));
      __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(g + 32 + 16 * (h0 + h))));
      UNROLL for (int r = 0; r < R; r++) {
        float da;
        memcpy(&da, a[r], sizeof da);
        __m256 dav = _mm256_set1_ps(da);
        acc[h][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_mul_ps(d, dav), acc[h][r]);
        acc[h][r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum[r]), _mm256_mul_ps(dmin, dav), acc[h][r]);
      }
    }
  }
  UNROLL for (int h = 0; h < H; h++) UNROLL for (int r = 0; r < R; r++) {
    float *o = out + (size_t)r * ldo + 8 * (h0 + h);
    _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), acc[h][r]));
  }
}

enum { KIND_Q8_0, KIND_Q4_0, KIND_Q4_K };

INLINE void tile(int kind, int R, int h0, int H, const uint8_t *w, const uint8_t *act, size_t as, int64_t nb,
                 float *out, size_t ldo) {
  if (kind == KIND_Q4_K)
    tile_k(R, h0, H, w, act, as, nb, out, ldo);
  else
    tile32(kind == KIND_Q4_0, R, h0, H, w, act, as, nb, out, ldo);
}

/* Groups [0, ng): tiles of 4 activation rows a half at a time, then the
** remaining rows one at a time with both halves. */
INLINE void product(int kind, const void *w, size_t ng, size_t row_bytes, const void *act, size_t as, size_t na,
                    int64_t nb, float *out, size_t ldo) {
  for (size_t gi = 0; gi < ng; gi++) {
    const uint8_t *g = (const uint8_t *)w + gi * LLM_QPACK_ROWS * row_bytes;
    float *o = out + gi * LLM_QPACK_ROWS;
    size_t r = 0;
    for (; r + TILE_ROWS <= na; r += TILE_ROWS)
      for (int h = 0; h < 2; h++)
        tile(kind, TILE_ROWS, h, 1, g, (const uint8_t *)act + r * as, as, nb, o + r * ldo, ldo);
    for (; r < na; r++) tile(kind, 1, 0, 2, g, (const uint8_t *)act + r * as, as, nb, o + r * ldo, ldo);
  }
}

#define PRODUCT(name, kind, block)                                                                        \
  AVX2 static void name(const void *w, size_t ng, size_t rb, const void *act, size_t as, size_t na,       \
                        int64_t n, float *out, size_t ldo) {                                             \
    product(kind, w, ng, rb, act, as, na, n / (block), out, ldo);                                         \
  }
PRODUCT(q4_0_product, KIND_Q4_0, 32)
PRODUCT(q8_0_product, KIND_Q8_0, 32)
PRODUCT(q4_k_product, KIND_Q4_K, LLM_QK_K)

llm_qpack_product_fn llm_qpack_product_avx2(uint32_t type) {
  return type == LLM_QTYPE_Q4_0   ? q4_0_product
       : type == LLM_QTYPE_Q8_0 ? q8_0_product
       : type == LLM_QTYPE_Q4_K ? q4_k_product
                                : NULL;
}

#else
llm_qpack_product_fn llm_qpack_product_avx2(uint32_t type) {
  (void)type;
  return 0;
}
#endif
