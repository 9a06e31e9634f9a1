/*
** qpack.c: repacking q4_k weights 16 rows interleaved (see qpack.h), and
** the portable product over them, whose bits every level's matches.
*/
#include "kernels/qpack.h"

#include <math.h>
#include <string.h>

#include "base.h"
#include "kernels/qkernels.h"
#include "kernels/quant_impl.h"
#include "kernels/vec.h"

#define GROUP_BYTES (LLM_QPACK_ROWS * 144)

int llm_qpack_fits(uint32_t type, int64_t rows, int64_t cols) {
  return type == LLM_QTYPE_Q4_K && rows > 0 && rows % LLM_QPACK_ROWS == 0 && cols > 0 && cols % LLM_QK_K == 0;
}

int llm_qpack_rows(void *data, int64_t rows, size_t row_bytes) {
  size_t nb = row_bytes / 144, span = LLM_QPACK_ROWS * row_bytes;
  uint8_t *copy = llm_malloc(span);
  if (!copy) return -1;
  for (int64_t r = 0; r < rows; r += LLM_QPACK_ROWS) {
    uint8_t *dst = (uint8_t *)data + (size_t)r * row_bytes;
    memcpy(copy, dst, span);
    for (size_t b = 0; b < nb; b++) {
      uint8_t *g = dst + b * GROUP_BYTES;
      for (int i = 0; i < LLM_QPACK_ROWS; i++) {
        const uint8_t *blk = copy + (size_t)i * row_bytes + b * 144;
        memcpy(g + 2 * i, blk, 2);
        memcpy(g + 32 + 2 * i, blk + 2, 2);
        for (int k = 0; k < 12; k++) g[64 + 16 * k + i] = blk[4 + k];
        for (int jc = 0; jc < 32; jc++) memcpy(g + 256 + 64 * jc + 4 * i, blk + 16 + 4 * jc, 4);
      }
    }
  }
  llm_free(copy);
  return 0;
}

/* Where byte k of super-block b of row r (GGUF layout) sits in the
** packed rows. */
static size_t packed_at(size_t row_bytes, uint64_t r, size_t b, size_t k) {
  size_t i = (size_t)(r % LLM_QPACK_ROWS);
  size_t at = (size_t)(r - i) * row_bytes + b * GROUP_BYTES;
  if (k < 4) return at + 32 * (k / 2) + 2 * i + k % 2; /* d, dmin */
  if (k < 16) return at + 64 + 16 * (k - 4) + i;       /* scale bytes */
  return at + 256 + 64 * ((k - 16) / 4) + 4 * i + (k - 16) % 4;
}

void llm_qpack_read(const void *packed, size_t row_bytes, uint64_t offset, void *dst, size_t n) {
  const uint8_t *src = packed;
  uint8_t *out = dst;
  for (size_t o = 0; o < n; o++) {
    uint64_t at = offset + o, r = at / row_bytes;
    size_t within = (size_t)(at % row_bytes);
    out[o] = src[packed_at(row_bytes, r, within / 144, within % 144)];
  }
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

static void product_c(const void *w, size_t ng, size_t row_bytes, const void *act, size_t act_stride, size_t na,
                      int64_t n, float *out, size_t ldo) {
  size_t nb = (size_t)n / LLM_QK_K;
  for (size_t gi = 0; gi < ng; gi++)
    for (size_t r = 0; r < na; r++)
      for (int i = 0; i < LLM_QPACK_ROWS; i++) {
        const uint8_t *rows = (const uint8_t *)w + gi * LLM_QPACK_ROWS * row_bytes;
        const uint8_t *a = (const uint8_t *)act + r * act_stride;
        float acc = 0.0f;
        for (size_t b = 0; b < nb; b++, a += LLM_Q8_K_BYTES) {
          const uint8_t *g = rows + b * GROUP_BYTES;
          const int8_t *aq = (const int8_t *)(a + 4);
          int32_t isum = 0, msum = 0;
          for (int s = 0; s < 8; s++) {
            int scale, min, dot = 0;
            scale_min(g, i, s, &scale, &min);
            int j = s / 2, shift = s % 2 * 4;
            for (int e = 0; e < 32; e++) {
              uint8_t byte = g[256 + 64 * (8 * j + e / 4) + 4 * i + e % 4];
              dot += (byte >> shift & 15) * aq[64 * j + 32 * (s % 2) + e];
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
        out[r * ldo + gi * LLM_QPACK_ROWS + (size_t)i] += acc;
      }
}

llm_qpack_product_fn llm_qpack_product(int simd) {
  if (simd >= LLM_SIMD_AVX512 && llm_qkernel_level(simd) >= LLM_SIMD_AVX512 && llm_qpack_product_avx512)
    return llm_qpack_product_avx512;
  return product_c;
}
