/*
** qpack.c: repacking q4_k, q5_k, q6_k, q4_0 and q8_0 weights 16 rows
** interleaved (see qpack.h), and the portable products over them, whose
** bits every level's match.
*/
#include "kernels/qpack.h"

#include <math.h>
#include <string.h>

#include "base.h"
#include "kernels/qkernels.h"
#include "kernels/qtypes.h"
#include "kernels/quant_impl.h"
#include "kernels/vec.h"

static int block_bytes(uint32_t type) { return (int)llm_qtype_get(type)->block_bytes; }

/* q6_k's quarters of a group (qpack.h) */
#define Q6_QUARTER 768

int llm_qpack_fits(uint32_t type, int64_t rows, int64_t cols) {
  return (type == LLM_QTYPE_Q4_K || type == LLM_QTYPE_Q5_K || type == LLM_QTYPE_Q6_K || type == LLM_QTYPE_Q4_0 ||
          type == LLM_QTYPE_Q8_0) &&
         rows > 0 &&
         rows % LLM_QPACK_ROWS == 0 && cols > 0 && cols % llm_qtype_get(type)->block == 0;
}

/* Where byte k of row i's block sits in its group (qpack.h), and in *unit
** how many bytes from the start of k's field move together. */
static size_t place(uint32_t type, int i, int k, int *unit) {
  size_t row = (size_t)i;
  if (type == LLM_QTYPE_Q6_K) { /* quarter 2 h + half: ql runs j = 0, 1, then qh (qpack.h) */
    if (k < 128) /* ql: h = k / 64, j = k % 64 / 32, l = k % 32 */
      return *unit = 4, 288 + Q6_QUARTER * (size_t)(2 * (k / 64) + k % 32 / 16) + 256 * (size_t)(k % 64 / 32) +
                            64 * (size_t)(k % 16 / 4) + 4 * row + (size_t)(k % 4);
    if (k < 192) /* qh: h = (k - 128) / 32, l = k % 32 */
      return *unit = 4, 288 + Q6_QUARTER * (size_t)(2 * ((k - 128) / 32) + k % 32 / 16) + 512 +
                            64 * (size_t)(k % 16 / 4) + 4 * row + (size_t)(k % 4);
    if (k < 208) /* scales, in pairs of sub-blocks */
      return *unit = 1, 32 + 32 * (size_t)((k - 192) / 2) + 2 * row + (size_t)(k % 2);
    return *unit = 2, 2 * row + (size_t)(k - 208); /* d */
  }
  int k45 = type == LLM_QTYPE_Q4_K || type == LLM_QTYPE_Q5_K, qs = k45 ? 16 : 2, q5 = type == LLM_QTYPE_Q5_K;
  if (k < qs && k45 && k >= 4) return *unit = 1, 64 + 16 * (size_t)(k - 4) + row;
  if (k < qs) return *unit = 2, 32 * (size_t)(k / 2) + 2 * row + (size_t)(k % 2); /* d, dmin */
  int q = k - qs;
  *unit = 4;
  size_t lane = 4 * row + (size_t)(q % 4);
  if (q5 && q < 32) return llm_qpack_k5_qh(q / 4) + lane;
  int n = q - 32 * q5; /* the nibbles' byte, after q5_k's qh[32] */
  if (k45) return llm_qpack_k45_qs(q5, n / 32, n % 32 / 4) + lane;
  return 32 + 64 * (size_t)(q / 4) + lane;
}

/* One field's bytes of one row's block: from its offset in the 16 rows'
** span (block 0) to its place in the group. */
typedef struct qpack_move {
  uint32_t from, to, bytes;
} qpack_move;

/* Packing calls place() once per field of one group, not of every group:
** the moves are the same for each (TinyLlama Q4_K_M's weights pack in 0.16 s
** so, 1.2 s calling place() for every group). */
int llm_qpack_rows(uint32_t type, void *data, int64_t rows, size_t row_bytes) {
  size_t bb = (size_t)block_bytes(type), nb = row_bytes / bb, span = LLM_QPACK_ROWS * row_bytes;
  uint8_t *copy = llm_malloc(span);
  qpack_move *moves = llm_malloc(LLM_QPACK_ROWS * bb * sizeof *moves);
  if (!copy || !moves) {
    llm_free(copy);
    llm_free(moves);
    return -1;
  }
  size_t n_moves = 0;
  for (int i = 0; i < LLM_QPACK_ROWS; i++)
    for (int k = 0, unit; k < (int)bb; k += unit) {
      size_t at = place(type, i, k, &unit);
      moves[n_moves++] = (qpack_move){(uint32_t)((size_t)i * row_bytes + (size_t)k), (uint32_t)at, (uint32_t)unit};
    }
  for (int64_t r = 0; r < rows; r += LLM_QPACK_ROWS) {
    uint8_t *dst = (uint8_t *)data + (size_t)r * row_bytes;
    memcpy(copy, dst, span);
    for (size_t b = 0; b < nb; b++) {
      uint8_t *group = dst + b * LLM_QPACK_ROWS * bb;
      const uint8_t *blocks = copy + b * bb;
      for (size_t m = 0; m < n_moves; m++) {
        const qpack_move *v = &moves[m];
        /* (constant sizes: each memcpy is one load and one store) */
        if (v->bytes == 4)
          memcpy(group + v->to, blocks + v->from, 4);
        else if (v->bytes == 2)
          memcpy(group + v->to, blocks + v->from, 2);
        else
          group[v->to] = blocks[v->from];
      }
    }
  }
  llm_free(copy);
  llm_free(moves);
  return 0;
}

void llm_qpack_read(uint32_t type, const void *packed, size_t row_bytes, uint64_t offset, void *dst, size_t n) {
  const uint8_t *src = packed;
  uint8_t *out = dst;
  size_t bb = (size_t)block_bytes(type);
  for (size_t o = 0; o < n; o++) {
    uint64_t at = offset + o, r = at / row_bytes;
    size_t within = (size_t)(at % row_bytes), b = within / bb, i = (size_t)(r % LLM_QPACK_ROWS);
    int unit;
    size_t group = (size_t)(r - i) * row_bytes + b * LLM_QPACK_ROWS * bb;
    out[o] = src[group + place(type, (int)i, (int)(within % bb), &unit)];
  }
}

/* q8_0 activation rows prepared for the products of q4_0 (offset 8) and
** q8_0 (offset 128) weights. */
static void prepare(int offset, const void *src, void *dst, int64_t n) {
  const uint8_t *a = src;
  uint8_t *p = dst;
  for (int64_t b = 0; b < n / 32; b++, a += LLM_Q8_0_BYTES, p += LLM_QPACK_PREP_BLOCK) {
    float d = llm_half_at(a);
    int32_t sum = 0;
    for (int e = 0; e < 32; e++) sum += (int8_t)a[2 + e];
    int32_t start = -offset * sum;
    memcpy(p, &d, 4);
    memcpy(p + 4, &start, 4);
    memcpy(p + 8, a + 2, 32);
  }
}

static void prepare_q4_0(const void *src, void *dst, int64_t n) { prepare(8, src, dst, n); }

static void prepare_q8_0(const void *src, void *dst, int64_t n) { prepare(128, src, dst, n); }

llm_qpack_prepare_fn llm_qpack_prepare(uint32_t type) {
  return type == LLM_QTYPE_Q4_0 ? prepare_q4_0 : type == LLM_QTYPE_Q8_0 ? prepare_q8_0 : NULL;
}

/* Row i's scale and min of sub-block s in group g (q4_k's 6-bit fields,
** quant_k.c, read from the interleaved scale bytes). */
static void scale_min(const uint8_t *g, int i, int s, int *scale, int *min) {
  const uint8_t *sc = g + 64 + i;
#define B(k) sc[16 * (k)]
  if (s < 4) {
    *scale = B(s) & 63, *min = B(s + 4) & 63;
  } else {
    *scale = (B(s + 4) & 15) | (B(s - 4) >> 6) << 4;
    *min = (B(s + 4) >> 4) | (B(s) >> 6) << 4;
  }
#undef B
}

/* The dot of row i of the packed groups at rows (nb blocks) with the
** activation row a, q4_k (q5: 0) or q5_k with q8_K activations. */
static float dot_k45(int q5, const uint8_t *rows, int i, const uint8_t *a, size_t nb) {
  float acc = 0.0f;
  for (size_t b = 0; b < nb; b++, a += LLM_Q8_K_BYTES) {
    const uint8_t *g = rows + b * LLM_QPACK_ROWS * (q5 ? 176 : 144);
    const int8_t *aq = (const int8_t *)(a + 4);
    int32_t isum = 0, msum = 0;
    for (int s = 0; s < 8; s++) {
      int scale, min, dot = 0;
      scale_min(g, i, s, &scale, &min);
      int j = s / 2, shift = s % 2 * 4;
      for (int e = 0; e < 32; e++) {
        int lane = 4 * i + e % 4, u = g[llm_qpack_k45_qs(q5, j, e / 4) + lane] >> shift & 15;
        if (q5) u |= (g[llm_qpack_k5_qh(e / 4) + lane] >> s & 1) << 4; /* bit s of qh[e]: sub-block s's bit 4 */
        dot += u * aq[64 * j + 32 * (s % 2) + e];
      }
      int16_t bs[2];
      memcpy(bs, a + 260 + 4 * s, sizeof bs);
      isum += scale * dot;
      msum += min * (bs[0] + bs[1]);
    }
    float da;
    memcpy(&da, a, sizeof da);
    float d = llm_half_at(g + 2 * i) * da, dmin = llm_half_at(g + 32 + 2 * i) * da;
    acc = fmaf((float)isum, d, acc);
    acc = fmaf(-(float)msum, dmin, acc);
  }
  return acc;
}

/* The same for q6_k with q8_K activations. */
static float dot_q6_k(const uint8_t *rows, int i, const uint8_t *a, size_t nb) {
  float acc = 0.0f;
  for (size_t b = 0; b < nb; b++, a += LLM_Q8_K_BYTES) {
    const uint8_t *g = rows + b * LLM_QPACK_ROWS * 210;
    const int8_t *aq = (const int8_t *)(a + 4);
    int32_t isum = 0, osum = 0;
    for (int s = 0; s < 16; s++) { /* elements 128 h + 32 j + 16 half + e */
      int h = s / 8, j = s % 8 / 2, half = s % 2, scale = (int8_t)g[32 + 32 * (s / 2) + 2 * i + s % 2], dot = 0;
      const uint8_t *quarter = g + 288 + Q6_QUARTER * (2 * h + half);
      for (int e = 0; e < 16; e++) {
        int at = 64 * (e / 4) + 4 * i + e % 4;
        int low = quarter[256 * (j % 2) + at] >> (j / 2 * 4) & 15, high = quarter[512 + at] >> (2 * j) & 3;
        dot += (low | high << 4) * aq[16 * s + e];
      }
      int16_t bsum;
      memcpy(&bsum, a + 260 + 2 * s, sizeof bsum);
      isum += scale * dot;
      osum += scale * bsum;
    }
    float da;
    memcpy(&da, a, sizeof da);
    acc = fmaf((float)(isum - 32 * osum), llm_half_at(g + 2 * i) * da, acc);
  }
  return acc;
}

/* The same for q4_0 and q8_0 weights with prepared q8_0 activations. */
static float dot_32(uint32_t type, const uint8_t *rows, int i, const uint8_t *a, size_t nb) {
  size_t gb = LLM_QPACK_ROWS * (size_t)block_bytes(type);
  float acc = 0.0f;
  for (size_t b = 0; b < nb; b++, a += LLM_QPACK_PREP_BLOCK) {
    const uint8_t *qs = rows + b * gb + 32 + 4 * i;
    int32_t isum;
    memcpy(&isum, a + 4, 4);
    for (int e = 0; e < 32; e++) {
      int u = type == LLM_QTYPE_Q4_0 ? qs[64 * (e % 16 / 4) + e % 4] >> (e / 16 * 4) & 15
                                     : qs[64 * (e / 4) + e % 4] ^ 0x80;
      isum += u * (int8_t)a[8 + e];
    }
    float da;
    memcpy(&da, a, sizeof da);
    acc = fmaf((float)isum, llm_half_at(rows + b * gb + 2 * i) * da, acc);
  }
  return acc;
}

static void product_c(uint32_t type, const void *w, size_t ng, size_t row_bytes, const void *act,
                      size_t act_stride, size_t na, int64_t n, float *out, size_t ldo) {
  size_t nb = (size_t)n / llm_qtype_get(type)->block;
  for (size_t gi = 0; gi < ng; gi++)
    for (size_t r = 0; r < na; r++)
      for (int i = 0; i < LLM_QPACK_ROWS; i++) {
        const uint8_t *rows = (const uint8_t *)w + gi * LLM_QPACK_ROWS * row_bytes;
        const uint8_t *a = (const uint8_t *)act + r * act_stride;
        out[r * ldo + gi * LLM_QPACK_ROWS + (size_t)i] += type == LLM_QTYPE_Q4_K   ? dot_k45(0, rows, i, a, nb)
                                                          : type == LLM_QTYPE_Q5_K ? dot_k45(1, rows, i, a, nb)
                                                          : type == LLM_QTYPE_Q6_K ? dot_q6_k(rows, i, a, nb)
                                                                                   : dot_32(type, rows, i, a, nb);
      }
}

#define PORTABLE(name, type)                                                                                \
  static void name(const void *w, size_t ng, size_t rb, const void *act, size_t as, size_t na, int64_t n, \
                   float *out, size_t ldo) {                                                             \
    product_c(type, w, ng, rb, act, as, na, n, out, ldo);                                                 \
  }
PORTABLE(product_q4_k, LLM_QTYPE_Q4_K)
PORTABLE(product_q5_k, LLM_QTYPE_Q5_K)
PORTABLE(product_q6_k, LLM_QTYPE_Q6_K)
PORTABLE(product_q4_0, LLM_QTYPE_Q4_0)
PORTABLE(product_q8_0, LLM_QTYPE_Q8_0)

llm_qpack_product_fn llm_qpack_product(uint32_t type, int simd) {
  if (simd >= LLM_SIMD_AVX512 && llm_qkernel_level(simd) >= LLM_SIMD_AVX512 && llm_qpack_product_avx512(type))
    return llm_qpack_product_avx512(type);
  if (simd >= LLM_SIMD_AVX2 && llm_qkernel_level(simd) >= LLM_SIMD_AVX2 && llm_qpack_product_avx2(type))
    return llm_qpack_product_avx2(type);
  return type == LLM_QTYPE_Q4_K   ? product_q4_k
       : type == LLM_QTYPE_Q5_K ? product_q5_k
       : type == LLM_QTYPE_Q6_K ? product_q6_k
       : type == LLM_QTYPE_Q4_0 ? product_q4_0
                                : product_q8_0;
}
