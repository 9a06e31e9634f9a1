/*
** quant_avx512.c: the AVX-512 level of the quantized dot products (see
** qkernels.h): llm_qkernels_avx512, vec_dot, vec_dot4 and vec_dot_tile of
** q4_0, q4_1, q5_0, q5_1, q8_0, q2_k .. q6_k, f32, f16 and bf16, the
** activation preparation of the 32-element types and the activation
** quantizers (q8_0, q8_1, q8_k), with 512-bit vectors and VNNI. Needs
** avx512f, bw, vl and vnni (llm_qkernel_level checks).
**
** Integer products. VNNI's vpdpbusd adds the products of unsigned by signed
** bytes, 4 at a time, into int32 lanes without saturating, so each block's
** integer sum is exact whatever its bytes. The weights are made unsigned,
** the activations stay signed:
**   - q4_0, q5_0, q8_0 (with q8_0): q + 8, q + 16, q + 128, and the lanes
**     start at minus the offset times their activations' sum;
**   - q4_1, q5_1 (with q8_1): q as is (0..31); m times the activation
**     block's s is added as ggml does;
**   - q2_k .. q6_k (with q8_k): q as is, q3_k's + 4, q6_k's + 32;
**     vpmaddubsw gives int16 sums of pairs (at most 63 * 128 * 2 = 16128: no
**     saturation) and vpdpwssd multiplies them by their sub-block's scale
**     into int32 (a lane sums 16 elements of a super-block, under 2^24: its
**     conversion to float is exact). The mins, and the offsets 4 and 32
**     times the scales, multiply q8_k's bsums (sums of 16 activations).
** The float side: a block's sum times the product of the two scales, summed
** in float in another order than the portable kernels (within rounding);
** f32, f16 and bf16 sum 256 products per lane in float, then in double.
**
** Registers: 32-element blocks go by 4, a register holding the first 16
** elements of each and another the last 16 (see the section); a k-quant
** super-block is 4 registers of 64 weights, unpacked into the order of the
** activation bytes. The tiles hold several weight rows and activation rows
** (4 x 4 for the 32-element types, 1 x 8 for the k-quants), each weight
** register unpacked once for the tile's activation rows; every (weight
** row, activation row) pair takes the same steps whatever the tile, so a
** result does not depend on the rows around it (qkernels.h).
*/
#include "kernels/qkernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

#include "kernels/quant_impl.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define INLINE AVX512 static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 16") /* whole tiles: their accumulators stay in registers */

/* ---- helpers ------------------------------------------------------------------- */

static inline uint16_t u16_at(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline uint32_t u32_at(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline float f32_at(const uint8_t *p) {
  float v;
  memcpy(&v, p, sizeof v);
  return v;
}

INLINE float half_at(const uint8_t *p) { return _cvtsh_ss(u16_at(p)); }

/* x repeated in each 16-bit (rep16) or 8-bit (rep8) part of 64 bits. */
static inline uint64_t rep16(uint64_t x) { return x * 0x0001000100010001ull; }
static inline uint64_t rep8(uint64_t x) { return x * 0x0101010101010101ull; }

/* A register whose low 256 bits repeat lo and high 256 bits repeat hi. */
INLINE __m512i by_half(uint64_t lo, uint64_t hi) {
  return _mm512_set_epi64((long long)hi, (long long)hi, (long long)hi, (long long)hi,
                          (long long)lo, (long long)lo, (long long)lo, (long long)lo);
}

INLINE __m512i bcast256(const uint8_t *p) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

/* How far ahead in a weight row the tiles ask for its bytes: with a few
** rows streaming from memory at once the hardware prefetchers fall behind
** (Zen 4, bench/qtile_bench.c with 32768 rows: a batch's k-quant products
** 1.1-1.3x faster at 2 KB than without). */
#define PREFETCH 2048

/* Asks for the cache lines PREFETCH bytes past the next bytes of p. */
INLINE void prefetch_ahead(const uint8_t *p, int bytes) {
  for (int at = 0; at < bytes; at += 64) _mm_prefetch((const char *)p + PREFETCH + at, _MM_HINT_T0);
}

/* Bits [lo, lo + width) of each byte in the low half of x, [hi, hi + width)
** in the high half, as 0 .. mask (mask = 2^width - 1). */
INLINE __m512i field(__m512i x, int lo, int hi, int mask) {
  __m512i shifted = _mm512_srlv_epi16(x, by_half(rep16((uint64_t)lo), rep16((uint64_t)hi)));
  return _mm512_and_si512(shifted, _mm512_set1_epi8((char)mask));
}

/* q plus add in the bytes whose bit lo (low half) or hi (high half) is set
** in bits. */
INLINE __m512i with_bit(__m512i q, __m512i bits, int lo, int hi, int add) {
  __mmask64 set = _mm512_test_epi8_mask(bits, by_half(rep8(1ull << lo), rep8(1ull << hi)));
  return _mm512_mask_add_epi8(q, set, q, _mm512_set1_epi8((char)add));
}

/* ---- 32-element blocks: q4_0, q5_0, q8_0 (q8_0), q4_1, q5_1 (q8_1) ------------------ */

/* Blocks go 4 at a time ("quads"), each register holding 4 blocks: the
** first 16 elements of each (16 bytes per block, in int32 lanes 4k .. 4k +
** 3 for block k) in one register, the last 16 in another, so that
** vpdpbusd on the two sums 8 products of one block into each lane and the
** float work (convert, scale, add) is done for 4 blocks at a time. q4's
** and q5's nibbles are in that order already (low nibbles: elements
** 0..15). Weights are unsigned: q4_0's q + 8, q5_0's q + 16, q8_0's q +
** 128 (the lanes start at minus the offset times their activations' sum),
** q4_1's and q5_1's as they are.
**
** The activation rows are prepared for this once per product (vec_dot_tile
** reads them so, see act_prepare): a quad of a row takes PREP_QUAD bytes,
**   [0, 64): elements 0..15 of the 4 blocks, [64, 128): elements 16..31;
**   [128, 192): q8_0: the 16 lanes' starting int32 (minus the weight
**     offset times the sum of the 8 activations each lane multiplies);
**     q8_1: the 4 blocks' s as floats (then unused bytes);
**   [192, 256): block k's d as a float in lanes 4k .. 4k + 3;
** the blocks past the row's end (a short last quad) are zero. */

enum { Q4_0, Q5_0, Q8_0, Q4_1, Q5_1 };

#define HAS_MIN(kind) ((kind) == Q4_1 || (kind) == Q5_1)
#define PREP_QUAD 256

static inline int block_bytes(int kind) {
  return kind == Q4_0 ? 18 : kind == Q5_0 ? 22 : kind == Q8_0 ? 34 : kind == Q4_1 ? 20 : 24;
}

/* What unsigned weights are above the signed ones (0: none). */
static inline int weight_offset(int kind) {
  return kind == Q4_0 ? 8 : kind == Q5_0 ? 16 : kind == Q8_0 ? 128 : 0;
}

/* The 4 halves at p[i] + at as floats. */
INLINE __m128 four_halves(const uint8_t *const p[4], int at) {
  uint64_t h = 0;
  UNROLL for (int i = 0; i < 4; i++) h |= (uint64_t)u16_at(p[i] + at) << (16 * i);
  return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)h));
}

/* Lane k of x in lanes 4k .. 4k + 3. */
INLINE __m512 spread4(__m128 x) {
  __m512i index = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  return _mm512_permutexvar_ps(index, _mm512_castps128_ps512(x));
}

/* The 16 bytes at p[k] + at in bytes 16k .. 16k + 15, k < 4. */
INLINE __m512i four16(const uint8_t *const p[4], int at) {
  __m512i x = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p[0] + at)));
  x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p[1] + at)), 1);
  x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p[2] + at)), 2);
  return _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p[3] + at)), 3);
}

/* The 4 pointers to blocks b .. b + 3 of size bytes at p, the last of a
** short group (count < 4) repeated. */
INLINE void quad_ptrs(const uint8_t *p, int64_t size, int64_t b, int count, const uint8_t *out[4]) {
  UNROLL for (int i = 0; i < 4; i++) out[i] = p + (b + (i < count ? i : count - 1)) * size;
}

/* The unsigned weights of the quad at wp: elements 0..15 of each block in
** *lo, 16..31 in *hi. */
INLINE void weight_quad(int kind, const uint8_t *const wp[4], __m512i *lo, __m512i *hi) {
  if (kind == Q8_0) {
    __m512i flip = _mm512_set1_epi8((char)0x80);
    *lo = _mm512_xor_si512(four16(wp, 2), flip);
    *hi = _mm512_xor_si512(four16(wp, 18), flip);
    return;
  }
  int at = kind == Q4_0 ? 2 : kind == Q4_1 ? 4 : kind == Q5_0 ? 6 : 8;
  __m512i x = four16(wp, at), nib = _mm512_set1_epi8(15);
  *lo = _mm512_and_si512(x, nib);
  *hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), nib);
  if (kind == Q5_0 || kind == Q5_1) { /* bit j of qh: 16 to element j */
    int qh = kind == Q5_0 ? 2 : 4;
    uint64_t low = 0, high = 0;
    UNROLL for (int k = 0; k < 4; k++) {
      uint64_t bits = u32_at(wp[k] + qh);
      low |= (bits & 0xffff) << (16 * k), high |= (bits >> 16) << (16 * k);
    }
    *lo = _mm512_mask_add_epi8(*lo, low, *lo, _mm512_set1_epi8(16));
    *hi = _mm512_mask_add_epi8(*hi, high, *hi, _mm512_set1_epi8(16));
  }
}

/* Prepares the quad of blocks b .. b + count - 1 (count <= 4) of the
** activation row a (q8_0 or q8_1 blocks) at dst (see above). */
INLINE void prepare_quad(int kind, const uint8_t *a, int64_t b, int count, uint8_t *dst) {
  int64_t ab = HAS_MIN(kind) ? LLM_Q8_1_BYTES : LLM_Q8_0_BYTES;
  int at = HAS_MIN(kind) ? 4 : 2;
  const uint8_t *ap[4];
  quad_ptrs(a, ab, b, count, ap);
  __mmask16 blocks = (__mmask16)((1u << (4 * count)) - 1); /* lanes of real blocks */
  __m512i lo = _mm512_maskz_mov_epi32(blocks, four16(ap, at));
  __m512i hi = _mm512_maskz_mov_epi32(blocks, four16(ap, at + 16));
  _mm512_storeu_si512((void *)dst, lo);
  _mm512_storeu_si512((void *)(dst + 64), hi);
  if (HAS_MIN(kind)) {
    __m128 s = _mm_maskz_mov_ps((__mmask8)((1u << count) - 1), four_halves(ap, 2));
    _mm512_storeu_si512((void *)(dst + 128), _mm512_castps_si512(_mm512_castps128_ps512(s)));
    /* (the other 48 bytes: zero rather than undefined) */
    _mm512_mask_storeu_epi32(dst + 128, 0xfff0, _mm512_setzero_si512());
  } else {
    __m512i offset = _mm512_set1_epi8((char)weight_offset(kind)), zero = _mm512_setzero_si512();
    __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, offset, lo), offset, hi);
    _mm512_storeu_si512((void *)(dst + 128), _mm512_sub_epi32(zero, sum));
  }
  __m512 d = _mm512_maskz_mov_ps(blocks, spread4(four_halves(ap, 0)));
  _mm512_storeu_ps(dst + 192, d);
}

INLINE void prepare_row(int kind, const void *src, void *dst, int64_t n) {
  int64_t nb = n / 32;
  for (int64_t b = 0; b < nb; b += 4)
    prepare_quad(kind, src, b, nb - b < 4 ? (int)(nb - b) : 4, (uint8_t *)dst + b / 4 * PREP_QUAD);
}

/* A tile: W weight rows (w, w + ws, ...) by R activation rows (a, a + as,
** ...), acc[i * R + r] (macc: the min terms) for weight row i and
** activation row r. At most 4 x 4 (blocks32_tile) or 2 x 8 (k_tile). */
typedef struct tile {
  const uint8_t *w, *a;
  size_t ws, as;
} tile;

/* Adds the dots of quads [q0, q1) of the tile's weight rows (nb blocks in
** all) with its prepared activation rows, whose quad q0 is at t->a. Every
** (weight row, activation row) pair takes the same steps, in the same
** order, whatever W and R: each quad's integer sums (exact in int32), to
** float, times the lanes' product of the two scales, added to acc (the
** lanes of a short quad's missing blocks masked out); so any tile gives
** any other's bits. */
INLINE void quads_tile(int kind, int W, int R, const tile *t, int64_t q0, int64_t q1, int64_t nb, __m512 *acc,
                       __m128 *macc) {
  int64_t wb = block_bytes(kind);
  for (int64_t q = q0; q < q1; q++) {
    int count = nb - 4 * q < 4 ? (int)(nb - 4 * q) : 4;
    __mmask16 lanes = (__mmask16)((1u << (4 * count)) - 1);
    __m512i lo[4], hi[4];
    __m512 dw[4];
    __m128 mw[4];
    UNROLL for (int i = 0; i < W; i++) {
      const uint8_t *wp[4];
      quad_ptrs(t->w + (size_t)i * t->ws, wb, 4 * q, count, wp);
      prefetch_ahead(wp[0], 4 * (int)wb);
      weight_quad(kind, wp, &lo[i], &hi[i]);
      __m128 d = four_halves(wp, 0);
      dw[i] = spread4(d);
      if (HAS_MIN(kind)) mw[i] = four_halves(wp, 2);
    }
    UNROLL for (int r = 0; r < R; r++) {
      const uint8_t *p = t->a + (size_t)r * t->as + (size_t)(q - q0) * PREP_QUAD;
      __m512i alo = _mm512_loadu_si512((const void *)p), ahi = _mm512_loadu_si512((const void *)(p + 64));
      __m512i start = HAS_MIN(kind) ? _mm512_setzero_si512() : _mm512_loadu_si512((const void *)(p + 128));
      __m512 da = _mm512_loadu_ps(p + 192);
      UNROLL for (int i = 0; i < W; i++) {
        __m512i isum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start, lo[i], alo), hi[i], ahi);
        acc[i * R + r] = _mm512_mask3_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw[i], da),
                                               acc[i * R + r], lanes);
        if (HAS_MIN(kind)) /* m * s per block */
          macc[i * R + r] = _mm_mask3_fmadd_ps(mw[i], _mm_loadu_ps((const float *)(p + 128)), macc[i * R + r],
                                               (__mmask8)((1u << count) - 1));
      }
    }
  }
}

/* The dot a pair's accumulators hold. */
INLINE float blocks32_sum(int kind, __m512 acc, __m128 macc) {
  float d = _mm512_reduce_add_ps(acc);
  if (HAS_MIN(kind)) {
    float m[4];
    _mm_storeu_ps(m, macc);
    d += (m[0] + m[1]) + (m[2] + m[3]);
  }
  return d;
}

/* out[r * ldo + i] += the dot of weight row i with activation row r, for
** the W x R rows of the tile (prepared activation rows). */
INLINE void blocks32_tile(int kind, int W, int R, const tile *t, int64_t n, float *out, size_t ldo) {
  __m512 acc[16];
  __m128 macc[16];
  UNROLL for (int k = 0; k < W * R; k++) acc[k] = _mm512_setzero_ps(), macc[k] = _mm_setzero_ps();
  quads_tile(kind, W, R, t, 0, (n / 32 + 3) / 4, n / 32, acc, macc);
  UNROLL for (int i = 0; i < W; i++) UNROLL for (int r = 0; r < R; r++)
    out[(size_t)r * ldo + (size_t)i] += blocks32_sum(kind, acc[i * R + r], macc[i * R + r]);
}

/* Quads prepared at a time by the dots of unprepared rows (vec_dot,
** vec_dot4), on the stack. */
#define ROWS_QUADS 8

/* out[r] = the dot of row with the activation row act + r * stride, r < R
** (as they come: prepared here, a few quads at a time, for the same steps
** as the tiles). */
INLINE void blocks32_rows(int kind, const void *row, const void *act, size_t stride, int64_t n,
                          int R, float *out) {
  uint8_t prep[4][ROWS_QUADS * PREP_QUAD];
  int64_t nb = n / 32, nq = (nb + 3) / 4, ab = HAS_MIN(kind) ? LLM_Q8_1_BYTES : LLM_Q8_0_BYTES;
  __m512 acc[4];
  __m128 macc[4];
  UNROLL for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps(), macc[r] = _mm_setzero_ps();
  for (int64_t q0 = 0; q0 < nq; q0 += ROWS_QUADS) {
    int64_t q1 = nq - q0 < ROWS_QUADS ? nq : q0 + ROWS_QUADS;
    UNROLL for (int r = 0; r < R; r++)
      prepare_row(kind, (const uint8_t *)act + r * stride + 4 * q0 * ab, prep[r],
                  32 * ((nb < 4 * q1 ? nb : 4 * q1) - 4 * q0));
    tile t = {(const uint8_t *)row, prep[0], 0, sizeof prep[0]};
    quads_tile(kind, 1, R, &t, q0, q1, nb, acc, macc);
  }
  UNROLL for (int r = 0; r < R; r++) out[r] = blocks32_sum(kind, acc[r], macc[r]);
}

/* The activation quantizers of the 32-element types, with the bits of
** llm_q8_0_vec_from_float and llm_q8_1_vec_from_float (quant_ref.c: ggml's
** AVX code): amax by maxps in that code's order (8 lanes over the 4
** vectors, then 8 -> 4 -> 2 -> 1), rint(x * (127 / amax)) half to even,
** to int32 (INT32_MIN for a NaN or out of range), saturated to int8; q8_1
** adds s = d * the wrapping sum of the int32. */
INLINE void q8_from_float(int with_sum, const float *src, void *dst, int64_t n) {
  uint8_t *p = dst;
  int64_t bytes = with_sum ? LLM_Q8_1_BYTES : LLM_Q8_0_BYTES;
  __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / 32; b++, p += bytes, src += 32) {
    __m256 x[4], m;
    UNROLL for (int v = 0; v < 4; v++) x[v] = _mm256_loadu_ps(src + 8 * v);
    m = _mm256_andnot_ps(sign, x[0]);
    UNROLL for (int v = 1; v < 4; v++) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, x[v]));
    __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    float d = amax / 127.0f, mul = amax != 0.0f ? 127.0f / amax : 0.0f;
    __m256i sum = _mm256_setzero_si256();
    UNROLL for (int v = 0; v < 4; v++) {
      __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(x[v], _mm256_set1_ps(mul)));
      sum = _mm256_add_epi32(sum, q);
      _mm_storel_epi64((__m128i *)(p + (with_sum ? 4 : 2) + 8 * v), _mm256_cvtsepi32_epi8(q));
    }
    uint16_t h = llm_f32_to_f16(d);
    memcpy(p, &h, sizeof h);
    if (with_sum) {
      __m128i s4 = _mm_add_epi32(_mm256_extracti128_si256(sum, 1), _mm256_castsi256_si128(sum));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
      h = llm_f32_to_f16(d * (float)_mm_cvtsi128_si32(s4));
      memcpy(p + 2, &h, sizeof h);
    }
  }
}

AVX512 static void q8_0_from_float(const float *src, void *dst, int64_t n) { q8_from_float(0, src, dst, n); }
AVX512 static void q8_1_from_float(const float *src, void *dst, int64_t n) { q8_from_float(1, src, dst, n); }

/* ---- k-quants . q8_k ----------------------------------------------------------------- */

enum { Q2_K, Q3_K, Q4_K, Q5_K, Q6_K };

static inline int k_bytes(int kind) {
  return kind == Q2_K ? 84 : kind == Q3_K ? 110 : kind == Q4_K ? 144 : kind == Q5_K ? 176 : 210;
}

/* A super-block unpacked: q[j] = elements 64j .. 64j + 63, unsigned;
** scale[j] = their sub-block scales, one per 16-bit lane (pair of
** elements); corr = the factor of each of q8_k's 16 bsums; the block adds
** (d * isum + dc * (corr . bsums)) * ad, ad being the activation's d
** (d and dc in every lane). */
typedef struct kblock {
  __m512i q[4], scale[4];
  __m256i corr;
  __m512 d, dc;
} kblock;

/* scale[] from sc16, the scales of the 16 groups of 16 elements. */
INLINE void spread_scales(kblock *k, __m256i sc16) {
  __m512i all = _mm512_castsi256_si512(sc16);
  UNROLL for (int j = 0; j < 4; j++) {
    /* 16-bit lane i of register j is in group 4j + i / 8 */
    uint64_t g = 4 * (uint64_t)j;
    __m512i index = _mm512_set_epi64((long long)rep16(g + 3), (long long)rep16(g + 3),
                                     (long long)rep16(g + 2), (long long)rep16(g + 2),
                                     (long long)rep16(g + 1), (long long)rep16(g + 1),
                                     (long long)rep16(g), (long long)rep16(g));
    k->scale[j] = _mm512_permutexvar_epi16(index, all);
  }
}

/* Eight bytes as 16 int16 lanes, each twice (a scale per 32 elements). */
INLINE __m256i twice16(uint64_t bytes8) {
  __m128i v = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)bytes8));
  return _mm256_set_m128i(_mm_unpackhi_epi16(v, v), _mm_unpacklo_epi16(v, v));
}

/* Layouts: quant_k.c. q2_k and q3_k: group s = 8h + 2f + p (16 elements)
** is 2-bit field f of qs[32h + 16p ..], so register 2h holds fields 0, 1
** of qs[32h .. 32h + 31] and register 2h + 1 fields 2, 3. */
INLINE void q2_k_unpack(const uint8_t *b, kblock *k) {
  UNROLL for (int h = 0; h < 2; h++) {
    __m512i qs = bcast256(b + 16 + 32 * h);
    k->q[2 * h] = field(qs, 0, 2, 3);
    k->q[2 * h + 1] = field(qs, 4, 6, 3);
  }
  __m128i raw = _mm_loadu_si128((const __m128i *)b), low = _mm_set1_epi8(15);
  spread_scales(k, _mm256_cvtepu8_epi16(_mm_and_si128(raw, low)));
  k->corr = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), low));
  k->d = _mm512_set1_ps(half_at(b + 80)), k->dc = _mm512_set1_ps(-half_at(b + 82));
}

/* q3_k: q + 4 = the 2-bit field + 4 * (bit 4h + f of hmask[16p ..]); its 16
** six-bit scales minus 32: low nibbles in bytes 0..7 (groups 0..7 the low,
** 8..15 the high ones), top 2 bits in bytes 8..11 (field s / 4 of byte
** 8 + s % 4: the 32-bit word of bytes 8..11 shifted by 2 * (s / 4)). */
INLINE void q3_k_unpack(const uint8_t *b, kblock *k) {
  __m512i hmask = bcast256(b);
  UNROLL for (int h = 0; h < 2; h++) {
    __m512i qs = bcast256(b + 32 + 32 * h);
    k->q[2 * h] = with_bit(field(qs, 0, 2, 3), hmask, 4 * h, 4 * h + 1, 4);
    k->q[2 * h + 1] = with_bit(field(qs, 4, 6, 3), hmask, 4 * h + 2, 4 * h + 3, 4);
  }
  __m128i nib = _mm_set1_epi8(15), bytes8 = _mm_loadl_epi64((const __m128i *)(b + 96));
  __m128i low = _mm_unpacklo_epi64(_mm_and_si128(bytes8, nib),
                                   _mm_and_si128(_mm_srli_epi16(bytes8, 4), nib));
  __m128i top = _mm_srlv_epi32(_mm_set1_epi32((int)u32_at(b + 104)), _mm_set_epi32(6, 4, 2, 0));
  top = _mm_slli_epi16(_mm_and_si128(top, _mm_set1_epi8(3)), 4);
  __m256i sc16 = _mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_or_si128(low, top), _mm_set1_epi8(32)));
  spread_scales(k, sc16);
  k->corr = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc16, 2));
  k->d = k->dc = _mm512_set1_ps(half_at(b + 108));
}

/* q4_k and q5_k (high: q5_k's qh): register j holds the low nibbles of
** qs[32j ..] (sub-block 2j) then the high ones (2j + 1), plus 16 where bit
** 2j, 2j + 1 of qh[..] is set. Scales and mins: 6 bits each, for sub-blocks
** 0..3 in bytes 0..3 and 4..7, for 4..7 nibbles of bytes 8..11 topped by
** the top 2 bits of bytes 0..3 (scales) and 4..7 (mins). */
INLINE void q45_k_unpack(const uint8_t *b, kblock *k, int high) {
  const uint8_t *qs = b + (high ? 48 : 16);
  __m512i qh = high ? bcast256(b + 16) : _mm512_setzero_si512();
  UNROLL for (int j = 0; j < 4; j++) {
    k->q[j] = field(bcast256(qs + 32 * j), 0, 4, 15);
    if (high) k->q[j] = with_bit(k->q[j], qh, 2 * j, 2 * j + 1, 16);
  }
  uint32_t u0 = u32_at(b + 4), u1 = u32_at(b + 8), u2 = u32_at(b + 12);
  uint32_t six = 0x3f3f3f3f, nib = 0x0f0f0f0f, two = 0x03030303;
  uint64_t scales = (uint64_t)((u2 & nib) | (u0 >> 6 & two) << 4) << 32 | (u0 & six);
  uint64_t mins = (uint64_t)((u2 >> 4 & nib) | (u1 >> 6 & two) << 4) << 32 | (u1 & six);
  spread_scales(k, twice16(scales));
  k->corr = twice16(mins);
  k->d = _mm512_set1_ps(half_at(b)), k->dc = _mm512_set1_ps(-half_at(b + 2));
}

/* q6_k: elements 128h .. 128h + 63 are the low nibbles of ql[64h .. 64h +
** 63], the next 64 the high ones; their bits 4, 5 are fields 0, 1 (then
** 2, 3) of qh[32h .. 32h + 31], for the register's halves. q + 32 here. */
INLINE void q6_k_unpack(const uint8_t *b, kblock *k) {
  __m512i low = _mm512_set1_epi8(15), bits45 = _mm512_set1_epi8(0x30);
  UNROLL for (int h = 0; h < 2; h++) {
    __m512i ql = _mm512_loadu_si512((const void *)(b + 64 * h)), qh = bcast256(b + 128 + 32 * h);
    __m512i qh01 = _mm512_sllv_epi16(qh, by_half(rep16(4), rep16(2)));
    __m512i qh23 = _mm512_srlv_epi16(qh, by_half(0, rep16(2)));
    k->q[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, low), _mm512_and_si512(qh01, bits45));
    k->q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low),
                                      _mm512_and_si512(qh23, bits45));
  }
  __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 192)));
  spread_scales(k, sc16);
  k->corr = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc16, 5));
  k->d = k->dc = _mm512_set1_ps(half_at(b + 208));
}

INLINE void k_unpack(int kind, const uint8_t *b, kblock *k) {
  switch (kind) {
    case Q2_K: q2_k_unpack(b, k); break;
    case Q3_K: q3_k_unpack(b, k); break;
    case Q4_K: q45_k_unpack(b, k, 0); break;
    case Q5_K: q45_k_unpack(b, k, 1); break;
    default: q6_k_unpack(b, k); break;
  }
}

/* Adds the super-block's dot with the q8_k block at a to *acc. */
INLINE void dot_k(const kblock *k, const uint8_t *a, __m512 *acc) {
  __m512i isum = _mm512_setzero_si512();
  UNROLL for (int j = 0; j < 4; j++) {
    __m512i pairs = _mm512_maddubs_epi16(k->q[j], _mm512_loadu_si512((const void *)(a + 4 + 64 * j)));
    isum = _mm512_dpwssd_epi32(isum, pairs, k->scale[j]);
  }
  __m256i csum = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + 260)), k->corr);
  __m512 sum = _mm512_mul_ps(_mm512_cvtepi32_ps(isum), k->d);
  sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(csum)), k->dc, sum);
  *acc = _mm512_fmadd_ps(sum, _mm512_set1_ps(f32_at(a)), *acc);
}

/* out[r * ldo + i] += the dot of weight row i with activation row r, for
** the W x R rows of the tile: each super-block of a weight row is unpacked
** once for the R activation rows; every pair takes dot_k's steps. */
INLINE void k_tile(int kind, int W, int R, const tile *t, int64_t n, float *out, size_t ldo) {
  __m512 acc[16];
  UNROLL for (int k = 0; k < W * R; k++) acc[k] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / LLM_QK_K; b++) {
    kblock k[2];
    UNROLL for (int i = 0; i < W; i++) {
      const uint8_t *wb = t->w + (size_t)i * t->ws + b * k_bytes(kind);
      prefetch_ahead(wb, k_bytes(kind));
      k_unpack(kind, wb, &k[i]);
    }
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int i = 0; i < W; i++)
      dot_k(&k[i], t->a + (size_t)r * t->as + b * LLM_Q8_K_BYTES, &acc[i * R + r]);
  }
  UNROLL for (int i = 0; i < W; i++) UNROLL for (int r = 0; r < R; r++)
    out[(size_t)r * ldo + (size_t)i] += _mm512_reduce_add_ps(acc[i * R + r]);
}

INLINE void k_rows(int kind, const void *row, const void *act, size_t stride, int64_t n, int R,
                   float *out) {
  tile t = {row, act, 0, stride};
  UNROLL for (int r = 0; r < R; r++) out[r] = 0.0f;
  k_tile(kind, 1, R, &t, n, out, 1);
}

/* ggml's reference q8_K quantizer (llm_q8_k_vec_from_float, quant_k.c),
** with the same bits: the largest |x| (NaNs skipped: maxps gives its
** second operand, the running maximum, when the first is a NaN), the first
** value of that magnitude, scale = -127 / it, rint(scale * x) (vcvtps2dq
** rounds half to even, as rintf does) saturated to int8 (0 where scale * x
** is not finite), and the sums of 16. */
AVX512 static void q8_k_from_float(const float *src, void *dst, int64_t n) {
  uint8_t *p = dst;
  __m512 inf = _mm512_set1_ps(__builtin_inff());
  for (int64_t b = 0; b < n / LLM_QK_K; b++, p += LLM_Q8_K_BYTES, src += LLM_QK_K) {
    __m512 amax16 = _mm512_setzero_ps();
    for (int c = 0; c < 16; c++) amax16 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(src + 16 * c)), amax16);
    float amax = _mm512_reduce_max_ps(amax16), d = 0.0f, max = 0.0f;
    memset(p + 4, 0, LLM_QK_K + 32);
    if (amax != 0.0f) {
      for (int c = 0; c < 16; c++) {
        __mmask16 at = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(src + 16 * c)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
        if (at) {
          max = src[16 * c + __builtin_ctz(at)];
          break;
        }
      }
      float scale = -127.0f / max;
      for (int c = 0; c < 16; c++) {
        __m512 v = _mm512_mul_ps(_mm512_set1_ps(scale), _mm512_loadu_ps(src + 16 * c));
        __mmask16 finite = _mm512_cmp_ps_mask(_mm512_abs_ps(v), inf, _CMP_LT_OQ);
        __m512i q = _mm512_maskz_cvtps_epi32(finite, v);
        q = _mm512_max_epi32(_mm512_min_epi32(q, _mm512_set1_epi32(127)), _mm512_set1_epi32(-128));
        _mm_storeu_si128((__m128i *)(p + 4 + 16 * c), _mm512_cvtepi32_epi8(q));
        int sum = _mm512_reduce_add_epi32(q);
        p[260 + 2 * c] = (uint8_t)(sum & 0xff), p[261 + 2 * c] = (uint8_t)((unsigned)sum >> 8 & 0xff);
      }
      d = 1 / scale;
    }
    memcpy(p, &d, sizeof d);
  }
}

/* ---- f32, f16, bf16 ------------------------------------------------------------------ */

enum { F32, F16, BF16 };

/* 16 elements at p as floats; those outside `in` are 0. */
INLINE __m512 load16(int kind, const uint8_t *p, __mmask16 in) {
  if (kind == F32) return _mm512_maskz_loadu_ps(in, p);
  __m256i h = _mm256_maskz_loadu_epi16(in, p);
  if (kind == F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

#define PLAIN_CHUNK 256 /* elements summed in float before adding in double */

INLINE void plain_rows(int kind, const void *row, const void *act, size_t stride, int64_t n, int R,
                       float *out) {
  const uint8_t *w = row, *a = act;
  int64_t size = kind == F32 ? 4 : 2;
  __m512d total[4];
  UNROLL for (int r = 0; r < R; r++) total[r] = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += PLAIN_CHUNK) {
    int64_t end = n - i < PLAIN_CHUNK ? n : i + PLAIN_CHUNK;
    __m512 acc[4];
    UNROLL for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t j = i; j < end; j += 16) {
      __mmask16 in = end - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (end - j)) - 1);
      __m512 x = load16(kind, w + j * size, in);
      UNROLL for (int r = 0; r < R; r++)
        acc[r] = _mm512_fmadd_ps(x, load16(kind, a + r * stride + j * size, in), acc[r]);
    }
    UNROLL for (int r = 0; r < R; r++) {
      total[r] = _mm512_add_pd(total[r], _mm512_cvtps_pd(_mm512_castps512_ps256(acc[r])));
      __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r]), 1));
      total[r] = _mm512_add_pd(total[r], _mm512_cvtps_pd(high));
    }
  }
  UNROLL for (int r = 0; r < R; r++) out[r] = (float)_mm512_reduce_add_pd(total[r]);
}

/* ---- the table ------------------------------------------------------------------------ */

/* Weight rows [0, nw) by activation rows [0, na) in tiles of TW x TR
** (the family's tile function, f), the edges in narrower tiles. */
#define TILES(f, kind, TW, TR)                                                                    \
  do {                                                                                            \
    size_t j = 0;                                                                                 \
    if (na == 1) /* decode: one weight row at a time, a stream the prefetchers follow */         \
      for (tile t = {(const uint8_t *)w, act, ws, as}; j < nw; j++, t.w += ws)                   \
        f(kind, 1, 1, &t, n, out + j, ldo);                                                       \
    for (; j < nw; j += TW) {                                                                     \
      size_t r = 0;                                                                               \
      tile t = {(const uint8_t *)w + j * ws, act, ws, as};                                        \
      if (nw - j >= TW) {                                                                         \
        for (; r + TR <= na; r += TR, t.a = (const uint8_t *)act + r * as)                        \
          f(kind, TW, TR, &t, n, out + r * ldo + j, ldo);                                         \
        for (; r < na; r++, t.a = (const uint8_t *)act + r * as) f(kind, TW, 1, &t, n, out + r * ldo + j, ldo); \
        continue;                                                                                 \
      }                                                                                           \
      for (size_t i = j; i < nw; i++) { /* the last few weight rows, one at a time */              \
        t.w = (const uint8_t *)w + i * ws;                                                        \
        for (r = 0, t.a = act; r + TR <= na; r += TR, t.a = (const uint8_t *)act + r * as)         \
          f(kind, 1, TR, &t, n, out + r * ldo + i, ldo);                                          \
        for (; r < na; r++, t.a = (const uint8_t *)act + r * as) f(kind, 1, 1, &t, n, out + r * ldo + i, ldo); \
      }                                                                                           \
    }                                                                                             \
  } while (0)

/* vec_dot and vec_dot4 of a type from its family's rows function;
** vec_dot_tile from its tile function, in tiles of TW x TR. */
#define KERNELS(name, rows, kind)                                                              \
  AVX512 static float name##_dot(const void *row, const void *act, int64_t n) {                \
    float out;                                                                                 \
    rows(kind, row, act, 0, n, 1, &out);                                                       \
    return out;                                                                                \
  }                                                                                            \
  AVX512 static void name##_dot4(const void *row, const void *act, size_t stride, int64_t n, \
                                 float out[4]) {                                               \
    rows(kind, row, act, stride, n, 4, out);                                                   \
  }
#define TILED(name, f, kind, TW, TR)                                                              \
  AVX512 static void name##_tile(const void *w, size_t ws, size_t nw, const void *act, size_t as, \
                                 size_t na, int64_t n, float *out, size_t ldo) {                  \
    TILES(f, kind, TW, TR);                                                                       \
  }

KERNELS(q4_0, blocks32_rows, Q4_0)
KERNELS(q5_0, blocks32_rows, Q5_0)
KERNELS(q8_0, blocks32_rows, Q8_0)
KERNELS(q4_1, blocks32_rows, Q4_1)
KERNELS(q5_1, blocks32_rows, Q5_1)
KERNELS(q2_k, k_rows, Q2_K)
KERNELS(q3_k, k_rows, Q3_K)
KERNELS(q4_k, k_rows, Q4_K)
KERNELS(q5_k, k_rows, Q5_K)
KERNELS(q6_k, k_rows, Q6_K)
KERNELS(f32, plain_rows, F32)
KERNELS(f16, plain_rows, F16)
KERNELS(bf16, plain_rows, BF16)

TILED(q4_0, blocks32_tile, Q4_0, 4, 4)
TILED(q5_0, blocks32_tile, Q5_0, 4, 4)
TILED(q8_0, blocks32_tile, Q8_0, 4, 4)
TILED(q4_1, blocks32_tile, Q4_1, 2, 4)
TILED(q5_1, blocks32_tile, Q5_1, 2, 4)
TILED(q2_k, k_tile, Q2_K, 1, 8)
TILED(q3_k, k_tile, Q3_K, 1, 8)
TILED(q4_k, k_tile, Q4_K, 1, 8)
TILED(q5_k, k_tile, Q5_K, 1, 8)
TILED(q6_k, k_tile, Q6_K, 1, 8)

/* The plain types' tiles: their rows go to the products only few at a
** time (linear.h), one weight row by four activation rows is enough. */
#define PLAIN_TILE(name)                                                                          \
  AVX512 static void name##_tile(const void *w, size_t ws, size_t nw, const void *act, size_t as, \
                                 size_t na, int64_t n, float *out, size_t ldo) {                  \
    llm_tile_by_dot4(name##_dot, name##_dot4, w, ws, nw, act, as, na, n, out, ldo);               \
  }
PLAIN_TILE(f32)
PLAIN_TILE(f16)
PLAIN_TILE(bf16)

/* The 32-element types' tiles read prepared activation rows. */
#define PREPARE(name, kind)                                                       \
  AVX512 static void name##_prepare(const void *src, void *dst, int64_t n) {      \
    prepare_row(kind, src, dst, n);                                               \
  }
PREPARE(q4_0, Q4_0)
PREPARE(q5_0, Q5_0)
PREPARE(q8_0, Q8_0)
PREPARE(q4_1, Q4_1)
PREPARE(q5_1, Q5_1)

#define ENTRY(id, name) [id] = {name##_dot, name##_dot4, name##_tile, NULL, NULL}
#define ENTRY_PREPARED(id, name, act) [id] = {name##_dot, name##_dot4, name##_tile, name##_prepare, act##_from_float}
#define ENTRY_K(id, name) [id] = {name##_dot, name##_dot4, name##_tile, NULL, q8_k_from_float}

const llm_qkernel llm_qkernels_avx512[LLM_QTYPE_COUNT] = {
    ENTRY(LLM_QTYPE_F32, f32),
    ENTRY(LLM_QTYPE_F16, f16),
    ENTRY(LLM_QTYPE_BF16, bf16),
    ENTRY_PREPARED(LLM_QTYPE_Q4_0, q4_0, q8_0),
    ENTRY_PREPARED(LLM_QTYPE_Q4_1, q4_1, q8_1),
    ENTRY_PREPARED(LLM_QTYPE_Q5_0, q5_0, q8_0),
    ENTRY_PREPARED(LLM_QTYPE_Q5_1, q5_1, q8_1),
    ENTRY_PREPARED(LLM_QTYPE_Q8_0, q8_0, q8_0),
    ENTRY_K(LLM_QTYPE_Q2_K, q2_k),
    ENTRY_K(LLM_QTYPE_Q3_K, q3_k),
    ENTRY_K(LLM_QTYPE_Q4_K, q4_k),
    ENTRY_K(LLM_QTYPE_Q5_K, q5_k),
    ENTRY_K(LLM_QTYPE_Q6_K, q6_k),
};

#else
const llm_qkernel llm_qkernels_avx512[LLM_QTYPE_COUNT] = {{0}};
#endif
