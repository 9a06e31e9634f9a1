/*
** quant_avx2.c: the AVX2 level of the quantized dot products (qkernels.h):
** llm_qkernels_avx2, with vec_dot, vec_dot4 and vec_dot_tile for f16, bf16, q4_0, q4_1,
** q5_0, q5_1, q8_0 and q2_k .. q6_k. The other entries are NULL (portable).
**
** The functions are compiled for avx2, fma and f16c through target
** attributes (the build is plain x86-64) and must only be called on a CPU
** that has them: llm_qkernel_get hands them out at level LLM_SIMD_AVX2 and
** above. Every CPU with AVX2 and FMA has F16C.
**
** Arithmetic: the same as the portable kernels (quant_dot.c), but summed
** in another order. Each block's integer dot is exact, as there: bytes are
** multiplied with _mm256_maddubs_epi16 (unsigned x signed, pairs summed
** into int16 with saturation) only where no pair can reach 32767, which
** the comments at each use show; q8_0's two int8 operands can both be
** -128 and are widened to int16 instead. Each block then adds its integer
** lanes, converted to float, times the product of the two scales, into
** float lanes; f16 and bf16 sum float products in float lanes, 1024
** elements at a time, and those sums in double (the portable kernel sums
** every product in double).
**
** One driver per family (32-element blocks, k-quant super-blocks, halves)
** takes the weight type and the number of activation rows (1 or 4) as
** constants; always_inline makes a copy per use, in which the type's
** branches fold away and a weight block is unpacked once for every row.
*/
#include "kernels/qkernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

#include "kernels/quant_impl.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define INLINE AVX2 static inline __attribute__((always_inline))
#define MAX_ROWS 4

/* ---- loads and small helpers ----------------------------------------------------- */

INLINE __m256i load32(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
INLINE __m128i load16(const uint8_t *p) { return _mm_loadu_si128((const __m128i *)p); }

INLINE float half_at(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  return _cvtsh_ss(h);
}

/* The halves at p and p + 2 in float lanes 0 and 1, from one 4-byte load
** (which, unlike a 2-byte one, needs no shuffle unit). */
INLINE __m128 halves_at(const uint8_t *p) { return _mm_cvtph_ps(_mm_loadu_si32(p)); }

INLINE float float_at(const uint8_t *p) {
  float f;
  memcpy(&f, p, sizeof f);
  return f;
}

INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

INLINE __m256i bytes_of(int v) { return _mm256_set1_epi8((char)v); }

/* The int16 lanes of v summed in pairs into int32 lanes. */
INLINE __m256i pairs_to_i32(__m256i v) { return _mm256_madd_epi16(v, _mm256_set1_epi16(1)); }

/* The `width`-bit field at bit `from` of every byte of v, moved to bit
** `to` (other bits cleared). The 16-bit shift moves bits across bytes, but
** only into places the mask clears. */
INLINE __m256i field(__m256i v, int from, int to, int width) {
  v = from > to ? _mm256_srli_epi16(v, from - to) : _mm256_slli_epi16(v, to - from);
  return _mm256_and_si256(v, bytes_of(((1 << width) - 1) << to));
}

/* The 16 bytes of nibbles at p as 32 bytes: the low nibbles, then the high
** ones (the bytes in both halves, the upper half shifted by 4). */
INLINE __m256i nibbles_at(const uint8_t *p) {
  __m256i v = _mm256_broadcastsi128_si256(load16(p));
  v = _mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4));
  return _mm256_and_si256(v, bytes_of(15));
}

/* Byte j = 0xff where bit j of bits is set, else 0. */
INLINE __m256i bit_bytes(uint32_t bits) {
  const __m256i which = _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202,
                                           0x0303030303030303);
  const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
  __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), which);
  return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* ---- 32-element blocks: q4_0, q5_0, q8_0 . q8_0; q4_1, q5_1 . q8_1 ------------------- */

/* The even and the odd int8 of v, sign-extended to int16 (with shifts:
** they spread over more execution units than the widening shuffles). */
INLINE __m256i even_i16(__m256i v) { return _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8); }
INLINE __m256i odd_i16(__m256i v) { return _mm256_srai_epi16(v, 8); }

/* A weight block unpacked for the integer dots (see block_idot). q8_0: q
** and extra are its even and odd elements as int16. The others: q
** holds the 32 elements as unsigned bytes (q4_*: 0..15, q5_*: 0..31),
** and for q4_0 and q5_0 extra their center (8, 16) in every byte: their
** elements are q - center. */
typedef struct block32 {
  __m256i q, extra;
  __m128 dm; /* lane 0: d; lane 1: the q*_1 minimum m (else junk) */
} block32;

INLINE int has_min32(uint32_t type) { return type == LLM_QTYPE_Q4_1 || type == LLM_QTYPE_Q5_1; }

INLINE int block_bytes32(uint32_t type) {
  switch (type) {
    case LLM_QTYPE_Q4_0: return 18;
    case LLM_QTYPE_Q4_1: return 20;
    case LLM_QTYPE_Q5_0: return 22;
    case LLM_QTYPE_Q5_1: return 24;
    default: return 34; /* q8_0 */
  }
}

INLINE block32 unpack32(uint32_t type, const uint8_t *b) {
  block32 w;
  w.dm = halves_at(b);
  if (type == LLM_QTYPE_Q8_0) {
    w.q = even_i16(load32(b + 2));
    w.extra = odd_i16(load32(b + 2));
    return w;
  }
  int high = type == LLM_QTYPE_Q5_0 || type == LLM_QTYPE_Q5_1;
  const uint8_t *p = b + (has_min32(type) ? 4 : 2);
  w.q = nibbles_at(p + (high ? 4 : 0));
  if (high) { /* bit j of the 4 bytes at p is bit 4 of element j */
    uint32_t bits;
    memcpy(&bits, p, sizeof bits);
    w.q = _mm256_or_si256(w.q, _mm256_and_si256(bit_bytes(bits), bytes_of(16)));
  }
  w.extra = bytes_of(has_min32(type) ? 0 : high ? 16 : 8); /* center */
  return w;
}

/* The integer dot of a weight block with the 32 int8 at a, in 8 int32
** lanes. The unsigned weights go straight into maddubs (pairs: at most
** 31 * 128 * 2); for q4_0 and q5_0, the activations' pair sums times the
** center (at most 16 * 128 * 2) are subtracted. */
INLINE __m256i block_idot(uint32_t type, const block32 *w, const uint8_t *a) {
  if (type == LLM_QTYPE_Q8_0)
    return _mm256_add_epi32(_mm256_madd_epi16(w->q, even_i16(load32(a))),
                            _mm256_madd_epi16(w->extra, odd_i16(load32(a))));
  __m256i x = load32(a), p = _mm256_maddubs_epi16(w->q, x);
  if (!has_min32(type)) p = _mm256_sub_epi16(p, _mm256_maddubs_epi16(w->extra, x));
  return pairs_to_i32(p);
}

/* Lane r < rows: the half at act + r * stride + at. The halves are put
** together in an integer register: cheaper than inserting them one by one
** into a vector. */
INLINE __m128 rows_half(const uint8_t *act, size_t stride, int rows, int at) {
  uint16_t h[MAX_ROWS] = {0};
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++) memcpy(&h[r], act + r * stride + at, sizeof h[r]);
  uint64_t v = h[0] | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 32 | (uint64_t)h[3] << 48;
  return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)v));
}

/* Lane r of v in all 8 lanes. */
INLINE __m256 lane(__m128 v, int r) {
  if (r == 0) return _mm256_broadcastss_ps(v);
  return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(v), _mm256_set1_epi32(r));
}

/* Block b of the row against block b of each activation row: acc[r] gets
** d * ad * (integer lanes), lane r of *min the q*_1 term m * s. */
INLINE void step32(uint32_t type, const uint8_t *row, const uint8_t *act, size_t stride,
                   int64_t b, int rows, __m256 *acc, __m128 *min) {
  int a_bytes = has_min32(type) ? LLM_Q8_1_BYTES : LLM_Q8_0_BYTES;
  block32 w = unpack32(type, row + b * block_bytes32(type));
  act += b * a_bytes;
  __m128 d;
  if (rows == 1) { /* lanes 0, 1: d * ad, m * s */
    d = _mm_mul_ps(w.dm, halves_at(act));
    if (has_min32(type)) *min = _mm_add_ps(*min, _mm_movehdup_ps(d));
  } else {
    d = _mm_mul_ps(rows_half(act, stride, rows, 0), _mm_broadcastss_ps(w.dm));
    if (has_min32(type)) {
      __m128 m = _mm_broadcastss_ps(_mm_movehdup_ps(w.dm)); /* rounded as one row's */
      *min = _mm_add_ps(*min, _mm_mul_ps(rows_half(act, stride, rows, 2), m));
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++) {
    __m256i isum = block_idot(type, &w, act + r * stride + (has_min32(type) ? 4 : 2));
    acc[r] = _mm256_fmadd_ps(lane(d, r), _mm256_cvtepi32_ps(isum), acc[r]);
  }
}

/* out[r] = the dot of the row with activation row r < rows. Each row has
** two sets of accumulators (odd and even blocks), which overlap the
** latency of one row's multiply-adds, and its result does not depend on
** how many rows share the call (vec_dot_tile's contract). */
INLINE void dot32_rows(uint32_t type, const void *row, const void *act, size_t stride,
                       int64_t n, int rows, float *out) {
  __m256 even[MAX_ROWS], odd[MAX_ROWS];
  __m128 min = _mm_setzero_ps();
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++) even[r] = odd[r] = _mm256_setzero_ps();
  int64_t nb = n / 32, b = 0;
  for (; b + 1 < nb; b += 2) {
    step32(type, row, act, stride, b, rows, even, &min);
    step32(type, row, act, stride, b + 1, rows, odd, &min);
  }
  if (b < nb) step32(type, row, act, stride, b, rows, even, &min);
  float m[4];
  _mm_storeu_ps(m, min);
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++) out[r] = hsum(_mm256_add_ps(even[r], odd[r])) + m[r];
}

/* ---- k-quants . q8_k ---------------------------------------------------------------- */

/* A super-block's scales, unpacked once for its 8 chunks of 32 elements.
** scales: 16 int16 lanes; lane c of each 128-bit half, spread over that
** half by chunk_scales(c), gives the scale of chunk c's first 16
** elements (low half) and last 16 (high half): sub-blocks of 16 store
** the even sub-blocks' scales in the low half and the odd ones' in the
** high half, sub-blocks of 32 the same 8 scales in both. bias: the 16
** int16 that multiply the q8_k block's 16 sums of 16 activations, for
** the term subtracted from the integer dot: the mins (q2_k, q4_k, q5_k,
** scaled by dmin), or for q3_k and q6_k, whose elements are taken here
** unsigned (q + 4, q + 32), 4 or 32 times the scales (scaled by d). */
typedef struct k_scales {
  __m256i scales, bias;
  float d, dmin;
} k_scales;

INLINE int k_block_bytes(uint32_t type) {
  switch (type) {
    case LLM_QTYPE_Q2_K: return 84;
    case LLM_QTYPE_Q3_K: return 110;
    case LLM_QTYPE_Q4_K: return 144;
    case LLM_QTYPE_Q5_K: return 176;
    default: return 210; /* q6_k */
  }
}

/* The bias is taken out of the integer sum (scaled by d) rather than
** being a separate term scaled by dmin. */
INLINE int k_bias_in_isum(uint32_t type) {
  return type == LLM_QTYPE_Q3_K || type == LLM_QTYPE_Q6_K;
}

/* k_scales.scales from the 16 int8 scales of sub-blocks of 16, in order. */
INLINE __m256i scales_of_16(__m128i s) {
  const __m128i even_odd = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s, even_odd));
}

/* q4_k and q5_k: the 8 six-bit scales and mins packed in 12 bytes (quant_k.c,
** k4_scale_min) unpacked four bytes at a time: words 0 and 1 hold scales
** and mins 0..3 in their low 6 bits and the top 2 bits of scales and mins
** 4..7; word 2 their low 4 bits (scales in the low nibbles). */
INLINE k_scales k4_scales(const uint8_t *b) {
  uint32_t w[3];
  memcpy(w, b + 4, sizeof w);
  uint32_t sc_lo = w[0] & 0x3f3f3f3f, mn_lo = w[1] & 0x3f3f3f3f;
  uint32_t sc_hi = (w[2] & 0x0f0f0f0f) | (w[0] >> 6 & 0x03030303) << 4;
  uint32_t mn_hi = (w[2] >> 4 & 0x0f0f0f0f) | (w[1] >> 6 & 0x03030303) << 4;
  __m128i sc = _mm_cvtepu8_epi16(_mm_setr_epi32((int)sc_lo, (int)sc_hi, 0, 0));
  __m128i mn = _mm_setr_epi32((int)mn_lo, (int)mn_hi, 0, 0);
  k_scales k;
  k.scales = _mm256_broadcastsi128_si256(sc);
  k.bias = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn, mn)); /* a min per two sums */
  k.d = half_at(b), k.dmin = half_at(b + 2);
  return k;
}

/* q3_k: 16 six-bit scales in 12 bytes, minus 32 (quant_k.c, q3_k_scale):
** their low 4 bits are the nibbles of words 0 and 1 (low nibbles: scales
** 0..7), their high 2 bits the 2-bit fields of word 2 (field f of byte i:
** scale 4f + i). */
INLINE k_scales q3_k_scales(const uint8_t *b) {
  uint32_t w[3];
  memcpy(w, b + 96, sizeof w);
  uint32_t s[4];
  for (int i = 0; i < 4; i++)
    s[i] = (w[i % 2] >> (i / 2 * 4) & 0x0f0f0f0f) | (w[2] >> (2 * i) & 0x03030303) << 4;
  __m128i sc = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)s), _mm_set1_epi8(32));
  k_scales k;
  k.scales = scales_of_16(sc);
  k.bias = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 2); /* q + 4 */
  k.d = half_at(b + 108), k.dmin = k.d;
  return k;
}

INLINE k_scales k_scales_of(uint32_t type, const uint8_t *b) {
  k_scales k;
  switch (type) {
    case LLM_QTYPE_Q2_K: {
      __m128i packed = load16(b), low = _mm_set1_epi8(15);
      k.scales = scales_of_16(_mm_and_si128(packed, low));
      k.bias = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), low));
      k.d = half_at(b + 80), k.dmin = half_at(b + 82);
      return k;
    }
    case LLM_QTYPE_Q3_K: return q3_k_scales(b);
    case LLM_QTYPE_Q6_K: {
      __m128i sc = load16(b + 192);
      k.scales = scales_of_16(sc);
      k.bias = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 5); /* q + 32 */
      k.d = half_at(b + 208), k.dmin = k.d;
      return k;
    }
    default: return k4_scales(b); /* q4_k, q5_k */
  }
}

/* The int16 scale of each pair of chunk c's maddubs lanes (see k_scales). */
INLINE __m256i chunk_scales(const k_scales *k, int c) {
  return _mm256_shuffle_epi8(k->scales, _mm256_set1_epi16((short)(2 * c | (2 * c + 1) << 8)));
}

/* Elements 32c .. 32c + 31 of the super-block at b, unsigned: q2_k 0..3,
** q3_k 0..7 (q + 4), q4_k 0..15, q5_k 0..31, q6_k 0..63 (q + 32). Layouts:
** quant_k.c. */
INLINE __m256i k_chunk(uint32_t type, const uint8_t *b, int c) {
  switch (type) {
    case LLM_QTYPE_Q2_K: return field(load32(b + 16 + c / 4 * 32), c % 4 * 2, 0, 2);
    case LLM_QTYPE_Q3_K: /* 2 low bits as q2_k's; bit 2 is bit c of hmask */
      return _mm256_or_si256(field(load32(b + 32 + c / 4 * 32), c % 4 * 2, 0, 2),
                             field(load32(b), c, 2, 1));
    case LLM_QTYPE_Q4_K: return field(load32(b + 16 + c / 2 * 32), c % 2 * 4, 0, 4);
    case LLM_QTYPE_Q5_K: /* bit 4 is bit c of qh */
      return _mm256_or_si256(field(load32(b + 48 + c / 2 * 32), c % 2 * 4, 0, 4),
                             field(load32(b + 16), c, 4, 1));
    default: { /* q6_k: low 4 bits from ql, high 2 from qh */
      int h = c / 4, j = c % 4;
      return _mm256_or_si256(field(load32(b + h * 64 + j % 2 * 32), j / 2 * 4, 0, 4),
                             field(load32(b + 128 + h * 32), 2 * j, 4, 2));
    }
  }
}

/* Super-block b of the row against block b of each activation row. Per
** chunk, maddubs pairs reach at most 63 * 128 * 2 (q6_k), and times the
** scales (|s| <= 128) 2^22 per int32 lane, 2^25 over the 8 chunks; the
** bias terms: the q8_k block's sums of 16 (int16, whatever is stored)
** times at most 32 * 128, in pairs: 2^28 per lane. */
INLINE void k_step(uint32_t type, const uint8_t *row, const uint8_t *act, size_t stride,
                   int64_t b, int rows, __m256 *acc) {
  const uint8_t *w = row + b * k_block_bytes(type);
  k_scales k = k_scales_of(type, w);
  __m256i isum[MAX_ROWS];
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++) isum[r] = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int c = 0; c < 8; c++) {
    __m256i q = k_chunk(type, w, c), s = chunk_scales(&k, c);
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++) {
      const uint8_t *a = act + r * stride + b * LLM_Q8_K_BYTES + 4 + 32 * c;
      __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, load32(a)), s);
      isum[r] = _mm256_add_epi32(isum[r], p);
      /* An empty asm that "changes" the sum: without it GCC 12 regroups the
      ** 8 chunks' sums of four rows into trees whose 32 partial sums spill
      ** to the stack (15% slower). */
      __asm__("" : "+x"(isum[r]));
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++) {
    const uint8_t *a = act + r * stride + b * LLM_Q8_K_BYTES;
    __m256i bias = _mm256_madd_epi16(load32(a + 260), k.bias);
    float ad = float_at(a);
    if (k_bias_in_isum(type)) {
      isum[r] = _mm256_sub_epi32(isum[r], bias);
    } else {
      __m256 dmin = _mm256_set1_ps(k.dmin * ad);
      acc[r] = _mm256_fnmadd_ps(dmin, _mm256_cvtepi32_ps(bias), acc[r]);
    }
    acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(k.d * ad), _mm256_cvtepi32_ps(isum[r]), acc[r]);
  }
}

INLINE void k_dot_rows(uint32_t type, const void *row, const void *act, size_t stride,
                       int64_t n, int rows, float *out) {
  __m256 acc[MAX_ROWS];
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / LLM_QK_K; b++) k_step(type, row, act, stride, b, rows, acc);
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++) out[r] = hsum(acc[r]);
}

/* ---- f16 . f16, bf16 . bf16 --------------------------------------------------------- */

/* 16 halves at p as two vectors of 8 floats, x[0] and x[1]; which element
** goes where is the same for weights and activations, which is all a dot
** product needs: f16 converts the first 8 and the last 8, bf16 (the top
** half of a float) takes the even elements shifted up and the odd ones
** masked. */
INLINE void halves16(uint32_t type, const uint8_t *p, __m256 x[2]) {
  if (type == LLM_QTYPE_F16) {
    x[0] = _mm256_cvtph_ps(load16(p));
    x[1] = _mm256_cvtph_ps(load16(p + 16));
  } else {
    __m256i v = load32(p);
    x[0] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    x[1] = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xffff0000u)));
  }
}

/* Elements i .. i + 15 (32 bytes at w + 2i and at each activation row). */
INLINE void halves_step(uint32_t type, const uint8_t *w, const uint8_t *act, size_t stride,
                        int rows, __m256 (*acc)[2]) {
  __m256 x[2], y[2];
  halves16(type, w, x);
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++) {
    halves16(type, act + r * stride, y);
    acc[r][0] = _mm256_fmadd_ps(x[0], y[0], acc[r][0]);
    acc[r][1] = _mm256_fmadd_ps(x[1], y[1], acc[r][1]);
  }
}

/* Elements [i, end) of the row against each activation row: every 32,
** then 16, then the rest copied into zeroed buffers (zero times zero adds
** nothing); end - i <= HALVES_SPAN. Each row has two sets of accumulators. */
INLINE void halves_span(uint32_t type, const uint8_t *w, const uint8_t *a, size_t stride,
                        int64_t i, int64_t end, int rows, float *out) {
  __m256 acc[MAX_ROWS][2], acc2[MAX_ROWS][2];
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++)
    acc[r][0] = acc[r][1] = acc2[r][0] = acc2[r][1] = _mm256_setzero_ps();
  for (; i + 32 <= end; i += 32) {
    halves_step(type, w + 2 * i, a + 2 * i, stride, rows, acc);
    halves_step(type, w + 2 * i + 32, a + 2 * i + 32, stride, rows, acc2);
  }
  if (i + 16 <= end) {
    halves_step(type, w + 2 * i, a + 2 * i, stride, rows, acc);
    i += 16;
  }
  if (i < end) {
    uint8_t wt[32] = {0}, at[MAX_ROWS][32] = {{0}};
    size_t bytes = (size_t)(end - i) * 2;
    memcpy(wt, w + 2 * i, bytes);
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++) memcpy(at[r], a + r * stride + 2 * i, bytes);
    halves_step(type, wt, at[0], sizeof at[0], rows, acc);
  }
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++)
    out[r] = hsum(_mm256_add_ps(_mm256_add_ps(acc[r][0], acc[r][1]),
                                _mm256_add_ps(acc2[r][0], acc2[r][1])));
}

/* Spans of HALVES_SPAN elements are summed in float lanes (at most 64
** products each), and the spans in double: the rounding error stays near
** 2^-24 * 64 of the sum of the products' magnitudes however long the row,
** where one float sum would grow with n. */
#define HALVES_SPAN 1024

INLINE void halves_dot_rows(uint32_t type, const void *row, const void *act, size_t stride,
                            int64_t n, int rows, float *out) {
  double total[MAX_ROWS] = {0};
  float part[MAX_ROWS];
  for (int64_t i = 0; i < n; i += HALVES_SPAN) {
    halves_span(type, row, act, stride, i, n - i < HALVES_SPAN ? n : i + HALVES_SPAN, rows, part);
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++) total[r] += part[r];
  }
#pragma GCC unroll 4
  for (int r = 0; r < rows; r++) out[r] = (float)total[r];
}

/* ---- the table ---------------------------------------------------------------------- */

/* name_dot and name_dot4: the driver for one row and for four; name_tile:
** those over a tile's rows. */
#define KERNELS(name, driver, type)                                                        \
  AVX2 static float name##_dot(const void *row, const void *act, int64_t n) {              \
    float out;                                                                             \
    driver(type, row, act, 0, n, 1, &out);                                                 \
    return out;                                                                            \
  }                                                                                        \
  AVX2 static void name##_dot4(const void *row, const void *act, size_t stride, int64_t n, \
                               float out[4]) {                                             \
    driver(type, row, act, stride, n, 4, out);                                             \
  }                                                                                        \
  AVX2 static void name##_tile(const void *w, size_t ws, size_t nw, const void *act,       \
                               size_t as, size_t na, int64_t n, float *out, size_t ldo) {  \
    llm_tile_by_dot4(name##_dot, name##_dot4, w, ws, nw, act, as, na, n, out, ldo);        \
  }
KERNELS(f16, halves_dot_rows, LLM_QTYPE_F16)
KERNELS(bf16, halves_dot_rows, LLM_QTYPE_BF16)
KERNELS(q4_0, dot32_rows, LLM_QTYPE_Q4_0)
KERNELS(q4_1, dot32_rows, LLM_QTYPE_Q4_1)
KERNELS(q5_0, dot32_rows, LLM_QTYPE_Q5_0)
KERNELS(q5_1, dot32_rows, LLM_QTYPE_Q5_1)
KERNELS(q8_0, dot32_rows, LLM_QTYPE_Q8_0)
KERNELS(q2_k, k_dot_rows, LLM_QTYPE_Q2_K)
KERNELS(q3_k, k_dot_rows, LLM_QTYPE_Q3_K)
KERNELS(q4_k, k_dot_rows, LLM_QTYPE_Q4_K)
KERNELS(q5_k, k_dot_rows, LLM_QTYPE_Q5_K)
KERNELS(q6_k, k_dot_rows, LLM_QTYPE_Q6_K)

#define ENTRY(name) {name##_dot, name##_dot4, name##_tile, NULL, NULL} /* (qkernels.c fills the defaults) */
const llm_qkernel llm_qkernels_avx2[LLM_QTYPE_COUNT] = {
    [LLM_QTYPE_F16] = ENTRY(f16),   [LLM_QTYPE_BF16] = ENTRY(bf16), [LLM_QTYPE_Q4_0] = ENTRY(q4_0),
    [LLM_QTYPE_Q4_1] = ENTRY(q4_1), [LLM_QTYPE_Q5_0] = ENTRY(q5_0), [LLM_QTYPE_Q5_1] = ENTRY(q5_1),
    [LLM_QTYPE_Q8_0] = ENTRY(q8_0), [LLM_QTYPE_Q2_K] = ENTRY(q2_k), [LLM_QTYPE_Q3_K] = ENTRY(q3_k),
    [LLM_QTYPE_Q4_K] = ENTRY(q4_k), [LLM_QTYPE_Q5_K] = ENTRY(q5_k), [LLM_QTYPE_Q6_K] = ENTRY(q6_k),
};

#else

const llm_qkernel llm_qkernels_avx2[LLM_QTYPE_COUNT] = {{0}};

#endif
