/*
** qpack_avx512.c: the products over repacked weights (qpack.h) with
** AVX-512 VNNI: llm_qpack_product_avx512.
**
** A tile is one group of 16 weight rows by up to 4 activation rows. q4_k:
** for each 64 columns (sub-blocks 2j and 2j + 1) the 8 registers of packed
** nibbles are loaded once and split into low and high nibbles; each
** activation row's 4 bytes are broadcast into vpdpbusd, whose lane i sums
** row i's products: a sub-block's sum in 8 instructions for 16 rows. The
** sums times their scale (vpmulld), the mins times a's bsums (vpdpwssd),
** then per super-block the two fmas of qpack.h's arithmetic in 16 lanes at
** once. Measured on Zen 4 (one thread, 2048 x 2048): 1.9-2.2x the GGUF
** layout's k-quant tile in cache, 1.5x decoding from memory. q5_k: the
** same, each nibble's bit 4 from the rows' qh chunk c (bits 2 j, 2 j + 1):
** 1.6x the GGUF layout's tile decoding in cache, 1.9x for 16 rows. q4_0,
** q8_0: per block of 32 the 4 (8) registers of packed weights, each row's
** sum started at its prepared offset term, then one convert and fma.
*/
#include "kernels/qpack.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

#include "kernels/qtypes.h"
#include "kernels/quant_impl.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c")))
#define INLINE AVX512 static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 16")
#define K_GROUP (LLM_QPACK_ROWS * 144)
#define K5_GROUP (LLM_QPACK_ROWS * 176)
#define K6_GROUP (LLM_QPACK_ROWS * 210)
#define TILE_ROWS 4
#define AHEAD 2048 /* (see quant_avx512.c) */
/* Asks for the line at p, whole groups of gb bytes ahead: AHEAD bytes at
** least, so each line of every group is asked for once. */
#define PREFETCH(p, gb) _mm_prefetch((const char *)(p) + ((AHEAD) + (gb)-1) / (gb) * (gb), _MM_HINT_T0)
/* The q6_k tile reads its group's lines out of order (ql, qh, ql of each
** quarter), as did q5_k's first, j-major layout (its qh chunks again for
** each 64 columns). With the lines asked into L1 one group ahead a decode
** step from memory ran at 16 GB/s (q6_k) and 9-11 (q5_k) on one Zen 4
** core, where the tiles run at 39-50 and 34 in cache; asked into L2 three
** groups (8-10 KB) ahead, both read 24-25 GB/s, a core's streaming rate
** (L1 and L2 hints 1-8 groups ahead measured; q4_k and the 32-element
** types were best as they are). q5_k's column-major layout reads in order
** and still decoded best so (110M Q5_K_M, two threads: 340 tok/s, 321
** without a hint, 279 with the L1 one). */
#define PREFETCH_L2(p, gb) _mm_prefetch((const char *)(p) + 3 * (gb), _MM_HINT_T1)

INLINE __m512i bcast32(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

/* The 16 rows' scale (min: 0) or min (min: 1) of sub-block s as int32
** lanes, from the interleaved scale bytes at sc (qpack.h, quant_k.c). */
INLINE __m512i scales16(const uint8_t *sc, int s, int min) {
#define B(k) _mm_loadu_si128((const __m128i *)(sc + 16 * (k)))
  __m128i v;
  if (s < 4) {
    v = _mm_and_si128(B(s + 4 * min), _mm_set1_epi8(63));
  } else {
    __m128i low = min ? _mm_srli_epi16(B(s + 4), 4) : B(s + 4);
    __m128i top = _mm_srli_epi16(B(s - 4 + 4 * min), 2); /* bits 6, 7 to 4, 5 */
    v = _mm_or_si128(_mm_and_si128(low, _mm_set1_epi8(15)), _mm_and_si128(top, _mm_set1_epi8(0x30)));
  }
#undef B
  return _mm512_cvtepu8_epi32(v);
}

/* q4_k's lines into L1 one group ahead, q5_k's into L2 three (see above). */
INLINE void prefetch_group(int l2, const uint8_t *p, size_t gb) {
  if (l2)
    PREFETCH_L2(p, gb);
  else
    PREFETCH(p, gb);
}

/* Bit `bit` of each byte of x moved to bit 4 (16-bit shifts: the mask
** drops what crosses bytes). */
INLINE __m512i bit_to_4(__m512i x, int bit) {
  __m512i v = bit < 4 ? _mm512_slli_epi16(x, 4 - bit) : bit > 4 ? _mm512_srli_epi16(x, bit - 4) : x;
  return _mm512_and_si512(v, _mm512_set1_epi8(16));
}

/* The 16 rows' low and high nibbles of q4_k's (q5_k's: 5-bit) weights
** chunk (j, c) of the group at g (qpack.h), asking for the line ahead. */
INLINE void k_chunk(int q5, const uint8_t *g, size_t gb, int j, int c, __m512i *lo, __m512i *hi) {
  const __m512i low = _mm512_set1_epi8(15);
  const uint8_t *p = g + llm_qpack_k45_qs(q5, j, c);
  prefetch_group(q5, p, gb);
  __m512i q = _mm512_loadu_si512((const void *)p);
  *lo = _mm512_and_si512(q, low), *hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low);
  if (q5) {
    if (j == 0) prefetch_group(q5, g + llm_qpack_k5_qh(c), gb);
    __m512i qh = _mm512_loadu_si512((const void *)(g + llm_qpack_k5_qh(c)));
    *lo = _mm512_or_si512(*lo, bit_to_4(qh, 2 * j)), *hi = _mm512_or_si512(*hi, bit_to_4(qh, 2 * j + 1));
  }
}

/* out[r * ldo + i] += the dots of the group's 16 rows at w (row_bytes
** each) with activation rows act + r * as, r < R: q4_k, or q5_k (q5).
** One row of q5_k goes over c and then j, its group's address order;
** the sums are exact integers, the same in either order. */
INLINE void k_tile(int q5, int R, const uint8_t *w, const uint8_t *act, size_t as, int64_t nb, float *out,
                   size_t ldo) {
  __m512 acc[TILE_ROWS];
  UNROLL for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
  const size_t gb = q5 ? K5_GROUP : K_GROUP;
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *g = w + b * gb;
    for (size_t k = 0; k < 256; k += 64) prefetch_group(q5, g + k, gb);
    const uint8_t *a[TILE_ROWS];
    UNROLL for (int r = 0; r < R; r++) a[r] = act + (size_t)r * as + b * LLM_Q8_K_BYTES;
    __m512i isum[TILE_ROWS], msum[TILE_ROWS];
    UNROLL for (int r = 0; r < R; r++) isum[r] = msum[r] = _mm512_setzero_si512();
    /* chunk (j, c) in step o: c-major for one row of q5_k (see above); each
    ** j's sums take their scales after its last chunk */
    const int cmajor = q5 && R == 1;
    __m512i lo_sum[4][TILE_ROWS], hi_sum[4][TILE_ROWS];
    _Pragma("GCC unroll 32") for (int o = 0; o < 32; o++) {
      int j = cmajor ? o % 4 : o / 8, c = cmajor ? o / 4 : o % 8;
      if (c == 0) UNROLL for (int r = 0; r < R; r++) lo_sum[j][r] = hi_sum[j][r] = _mm512_setzero_si512();
      __m512i lo, hi;
      k_chunk(q5, g, gb, j, c, &lo, &hi);
      UNROLL for (int r = 0; r < R; r++) {
        lo_sum[j][r] = _mm512_dpbusd_epi32(lo_sum[j][r], lo, bcast32(a[r] + 4 + 64 * j + 4 * c));
        hi_sum[j][r] = _mm512_dpbusd_epi32(hi_sum[j][r], hi, bcast32(a[r] + 4 + 64 * j + 32 + 4 * c));
      }
      if (c < 7) continue;
      __m512i sl = scales16(g + 64, 2 * j, 0), sh = scales16(g + 64, 2 * j + 1, 0);
      UNROLL for (int r = 0; r < R; r++)
        isum[r] = _mm512_add_epi32(isum[r], _mm512_add_epi32(_mm512_mullo_epi32(lo_sum[j][r], sl),
                                                             _mm512_mullo_epi32(hi_sum[j][r], sh)));
    }
    UNROLL for (int s = 0; s < 8; s++) { /* each min twice: once per bsum of 16 */
      __m512i m = scales16(g + 64, s, 1);
      m = _mm512_or_si512(m, _mm512_slli_epi32(m, 16));
      UNROLL for (int r = 0; r < R; r++) msum[r] = _mm512_dpwssd_epi32(msum[r], m, bcast32(a[r] + 260 + 4 * s));
    }
    __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g));
    __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g + 32)));
    UNROLL for (int r = 0; r < R; r++) {
      float da;
      memcpy(&da, a[r], sizeof da);
      __m512 dav = _mm512_set1_ps(da);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_mul_ps(d, dav), acc[r]);
      acc[r] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[r]), _mm512_mul_ps(dmin, dav), acc[r]);
    }
  }
  UNROLL for (int r = 0; r < R; r++) {
    float *o = out + (size_t)r * ldo;
    _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[r]));
  }
}

/* The 16 rows' int8 scales of sub-blocks 2 p and 2 p + 1 as int32 lanes,
** from their pairs at sc + 32 p (qpack.h). */
INLINE __m512i scale_pair(const uint8_t *sc, int p, int odd) {
  __m512i pair = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(sc + 32 * p)));
  return _mm512_srai_epi32(odd ? pair : _mm512_slli_epi32(pair, 16), 16);
}

/* The q6_k tile: per 128 elements (h) and 16 columns (half), for j = jj
** and jj + 2, the 6-bit weights are the low (high) nibbles of the ql
** chunks with bits 2 j, 2 j + 1 of the qh chunks above them; their sums
** over a sub-block times its scale (vpmulld), the scales times a's bsums
** (vpdpwssd) for the -32 offset, then one fma per super-block. */
INLINE void k6_tile(int R, const uint8_t *w, const uint8_t *act, size_t as, int64_t nb, float *out, size_t ldo) {
  __m512 acc[TILE_ROWS];
  UNROLL for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
  const __m512i low = _mm512_set1_epi8(15), top = _mm512_set1_epi8(0x30);
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *g = w + b * K6_GROUP;
    for (int k = 0; k < 288; k += 64) PREFETCH_L2(g + k, K6_GROUP);
    const uint8_t *a[TILE_ROWS];
    __m512i isum[TILE_ROWS], osum[TILE_ROWS];
    UNROLL for (int r = 0; r < R; r++) {
      a[r] = act + (size_t)r * as + b * LLM_Q8_K_BYTES;
      isum[r] = osum[r] = _mm512_setzero_si512();
    }
    UNROLL for (int h = 0; h < 2; h++)
      UNROLL for (int half = 0; half < 2; half++)
        UNROLL for (int jj = 0; jj < 2; jj++) {
          __m512i lo_sum[TILE_ROWS], hi_sum[TILE_ROWS]; /* j = jj, j = jj + 2 */
          UNROLL for (int r = 0; r < R; r++) lo_sum[r] = hi_sum[r] = _mm512_setzero_si512();
          const uint8_t *quarter = g + 288 + 768 * (2 * h + half);
          UNROLL for (int c = 4 * half; c < 4 * half + 4; c++) {
            const uint8_t *lp = quarter + 256 * jj + 64 * (c % 4), *hp = quarter + 512 + 64 * (c % 4);
            PREFETCH_L2(lp, K6_GROUP);
            if (!jj) PREFETCH_L2(hp, K6_GROUP);
            __m512i ql = _mm512_loadu_si512((const void *)lp), qh = _mm512_loadu_si512((const void *)hp);
            /* bits 2 j, 2 j + 1 of qh to bits 4, 5 (16-bit shifts: the mask
            ** drops what crosses bytes) */
            __m512i hl = _mm512_and_si512(jj ? _mm512_slli_epi16(qh, 2) : _mm512_slli_epi16(qh, 4), top);
            __m512i hh = _mm512_and_si512(jj ? _mm512_srli_epi16(qh, 2) : qh, top);
            __m512i ulo = _mm512_or_si512(_mm512_and_si512(ql, low), hl);
            __m512i uhi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low), hh);
            UNROLL for (int r = 0; r < R; r++) {
              const uint8_t *x = a[r] + 4 + 128 * h + 32 * jj + 4 * c;
              lo_sum[r] = _mm512_dpbusd_epi32(lo_sum[r], ulo, bcast32(x));
              hi_sum[r] = _mm512_dpbusd_epi32(hi_sum[r], uhi, bcast32(x + 64));
            }
          }
          /* sub-blocks 8 h + 2 j + half: pairs 4 h + j, member half */
          __m512i sl = scale_pair(g + 32, 4 * h + jj, half), sh = scale_pair(g + 32, 4 * h + jj + 2, half);
          UNROLL for (int r = 0; r < R; r++)
            isum[r] = _mm512_add_epi32(isum[r], _mm512_add_epi32(_mm512_mullo_epi32(lo_sum[r], sl),
                                                                 _mm512_mullo_epi32(hi_sum[r], sh)));
        }
    UNROLL for (int p = 0; p < 8; p++) {
      __m512i pair = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(g + 32 + 32 * p)));
      UNROLL for (int r = 0; r < R; r++) osum[r] = _mm512_dpwssd_epi32(osum[r], pair, bcast32(a[r] + 260 + 4 * p));
    }
    __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g));
    UNROLL for (int r = 0; r < R; r++) {
      float da;
      memcpy(&da, a[r], sizeof da);
      __m512i total = _mm512_sub_epi32(isum[r], _mm512_slli_epi32(osum[r], 5));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(d, _mm512_set1_ps(da)), acc[r]);
    }
  }
  UNROLL for (int r = 0; r < R; r++) {
    float *o = out + (size_t)r * ldo;
    _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[r]));
  }
}

/* The same for q4_0 (q4: 1) or q8_0 weights, nb blocks of 32, with
** prepared activation rows. */
INLINE void tile32(int q4, int R, const uint8_t *w, const uint8_t *act, size_t as, int64_t nb, float *out,
                   size_t ldo) {
  __m512 acc[TILE_ROWS];
  UNROLL for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
  const __m512i low = _mm512_set1_epi8(15), flip = _mm512_set1_epi8((char)0x80);
  const size_t gb = LLM_QPACK_ROWS * (q4 ? 18 : 34);
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *g = w + b * gb;
    const uint8_t *a[TILE_ROWS];
    __m512i isum[TILE_ROWS];
    UNROLL for (int r = 0; r < R; r++) {
      a[r] = act + (size_t)r * as + b * LLM_QPACK_PREP_BLOCK;
      isum[r] = bcast32(a[r] + 4);
    }
    for (size_t k = 0; k < gb; k += 64) PREFETCH(g + k, gb);
    UNROLL for (int c = 0; c < 8; c++) { /* (a constant bound, for the pragma) */
      if (q4 && c >= 4) break;
      __m512i q = _mm512_loadu_si512((const void *)(g + 32 + 64 * c));
      if (q4) {
        __m512i lo = _mm512_and_si512(q, low), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low);
        UNROLL for (int r = 0; r < R; r++) {
          isum[r] = _mm512_dpbusd_epi32(isum[r], lo, bcast32(a[r] + 8 + 4 * c));
          isum[r] = _mm512_dpbusd_epi32(isum[r], hi, bcast32(a[r] + 8 + 16 + 4 * c));
        }
      } else {
        __m512i u = _mm512_xor_si512(q, flip);
        UNROLL for (int r = 0; r < R; r++) isum[r] = _mm512_dpbusd_epi32(isum[r], u, bcast32(a[r] + 8 + 4 * c));
      }
    }
    __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g));
    UNROLL for (int r = 0; r < R; r++) {
      float da;
      memcpy(&da, a[r], sizeof da);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_mul_ps(d, _mm512_set1_ps(da)), acc[r]);
    }
  }
  UNROLL for (int r = 0; r < R; r++) {
    float *o = out + (size_t)r * ldo;
    _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[r]));
  }
}

typedef void tile_fn(const uint8_t *w, const uint8_t *a, size_t as, int64_t nb, float *out, size_t ldo);
#define TILE(name, call)                                                                                 \
  AVX512 static void name(const uint8_t *w, const uint8_t *a, size_t as, int64_t nb, float *out, size_t ldo) { \
    call;                                                                                                \
  }
TILE(k_tile4, k_tile(0, TILE_ROWS, w, a, as, nb, out, ldo))
TILE(k_tile1, k_tile(0, 1, w, a, as, nb, out, ldo))
TILE(k5_tile4, k_tile(1, TILE_ROWS, w, a, as, nb, out, ldo))
TILE(k5_tile1, k_tile(1, 1, w, a, as, nb, out, ldo))
TILE(k6_tile4, k6_tile(TILE_ROWS, w, a, as, nb, out, ldo))
TILE(k6_tile1, k6_tile(1, w, a, as, nb, out, ldo))
TILE(q4_0_tile4, tile32(1, TILE_ROWS, w, a, as, nb, out, ldo))
TILE(q4_0_tile1, tile32(1, 1, w, a, as, nb, out, ldo))
TILE(q8_0_tile4, tile32(0, TILE_ROWS, w, a, as, nb, out, ldo))
TILE(q8_0_tile1, tile32(0, 1, w, a, as, nb, out, ldo))

/* Groups [0, ng) by the activation rows, in tiles of 4 rows and then 1. */
static void product(tile_fn *four, tile_fn *one, int64_t nb, const void *w, size_t ng, size_t row_bytes,
                    const void *act, size_t act_stride, size_t na, float *out, size_t ldo) {
  for (size_t gi = 0; gi < ng; gi++) {
    const uint8_t *g = (const uint8_t *)w + gi * LLM_QPACK_ROWS * row_bytes;
    float *o = out + gi * LLM_QPACK_ROWS;
    size_t r = 0;
    for (; r + TILE_ROWS <= na; r += TILE_ROWS)
      four(g, (const uint8_t *)act + r * act_stride, act_stride, nb, o + r * ldo, ldo);
    for (; r < na; r++) one(g, (const uint8_t *)act + r * act_stride, act_stride, nb, o + r * ldo, ldo);
  }
}

#define PRODUCT(name, four, one, block)                                                                   \
  static void name(const void *w, size_t ng, size_t rb, const void *act, size_t as, size_t na, int64_t n, \
                   float *out, size_t ldo) {                                                             \
    product(four, one, n / (block), w, ng, rb, act, as, na, out, ldo);                                    \
  }
PRODUCT(q4_k_product, k_tile4, k_tile1, LLM_QK_K)
PRODUCT(q5_k_product, k5_tile4, k5_tile1, LLM_QK_K)
PRODUCT(q6_k_product, k6_tile4, k6_tile1, LLM_QK_K)
PRODUCT(q4_0_product, q4_0_tile4, q4_0_tile1, 32)
PRODUCT(q8_0_product, q8_0_tile4, q8_0_tile1, 32)

llm_qpack_product_fn llm_qpack_product_avx512(uint32_t type) {
  return type == LLM_QTYPE_Q4_K   ? q4_k_product
       : type == LLM_QTYPE_Q5_K ? q5_k_product
       : type == LLM_QTYPE_Q6_K ? q6_k_product
       : type == LLM_QTYPE_Q4_0 ? q4_0_product
       : type == LLM_QTYPE_Q8_0 ? q8_0_product
                                : NULL;
}

#else
llm_qpack_product_fn llm_qpack_product_avx512(uint32_t type) {
  (void)type;
  return 0;
}
#endif
