/*
** quant_k.c: dequantization of ggml's k-quants (q2_k .. q6_k), whose
** super-blocks of 256 elements are split into sub-blocks of 16 or 32, each
** with its own small integer scale (and for q2/q4/q5 a minimum) that
** multiplies the block's half-precision d (and dmin).
**
** Layouts (byte offsets in a block; ggml-common.h):
**   q2_k  84: scales[16] (low nibble scale, high nibble min), qs[64] 2-bit,
**             d at 80, dmin at 82
**   q3_k 110: hmask[32] (bit 2 of q), qs[64] low 2 bits, scales 12 bytes of
**             16 six-bit scales, d at 108
**   q4_k 144: d, dmin, scales 12 bytes of 8 six-bit scales and mins, qs[128]
**   q5_k 176: as q4_k, then qh[32] (bit 4 of q) before qs[128]
**   q6_k 210: ql[128] low 4 bits, qh[64] high 2 bits, int8 scales[16], d at 208
** The 2-bit and 6-bit fields interleave: a byte of q2_k's qs holds four
** elements 32 apart, as the comments below say in each case.
*/
#include "kernels/quant_impl.h"

#define QK_K 256

/* q2_k: sub-block s (16 elements) is scales[s]; its elements come from
** the 2-bit field s % 8 / 2 of qs[s / 8 * 32 + s % 2 * 16 + l]. */
void llm_q2_k_to_float(const void *src, float *dst, int64_t n) {
  const uint8_t *b = src;
  for (int64_t i = 0; i < n / QK_K; i++, b += 84) {
    float d = llm_half_at(b + 80), dmin = llm_half_at(b + 82);
    for (int s = 0; s < 16; s++) {
      float dl = d * (b[s] & 15), ml = dmin * (b[s] >> 4);
      const uint8_t *q = b + 16 + s / 8 * 32 + s % 2 * 16;
      int shift = s % 8 / 2 * 2;
      for (int l = 0; l < 16; l++) *dst++ = dl * (q[l] >> shift & 3) - ml;
    }
  }
}

/* The 6-bit scale s of q3_k's 12 scale bytes: its low 4 bits are nibble
** s / 8 of byte s % 8, its high 2 bits field s / 4 of byte 8 + s % 4. */
static int q3_k_scale(const uint8_t *sc, int s) {
  int low = s < 8 ? sc[s] & 15 : sc[s - 8] >> 4;
  int high = sc[8 + s % 4] >> (s / 4 * 2) & 3;
  return (low | high << 4) - 32;
}

/* q3_k: q is the 2-bit field as in q2_k, minus 4 when its bit s / 2 in
** hmask is clear. */
void llm_q3_k_to_float(const void *src, float *dst, int64_t n) {
  const uint8_t *b = src;
  for (int64_t i = 0; i < n / QK_K; i++, b += 110) {
    float d = llm_half_at(b + 108);
    for (int s = 0; s < 16; s++) {
      float dl = d * q3_k_scale(b + 96, s);
      int at = s % 2 * 16, shift = s % 8 / 2 * 2;
      const uint8_t *q = b + 32 + s / 8 * 32 + at, *hm = b + at;
      for (int l = 0; l < 16; l++)
        *dst++ = dl * ((q[l] >> shift & 3) - (hm[l] >> (s / 2) & 1 ? 0 : 4));
    }
  }
}

/* The 6-bit scale and min of sub-block s (0..7) of q4_k and q5_k: for
** s < 4 the low 6 bits of bytes s and s + 4; for s >= 4 the nibbles of
** byte s + 4, topped by the 2 high bits of bytes s - 4 and s. */
static void k4_scale_min(const uint8_t *sc, int s, int *scale, int *min) {
  if (s < 4) {
    *scale = sc[s] & 63;
    *min = sc[s + 4] & 63;
  } else {
    *scale = (sc[s + 4] & 15) | (sc[s - 4] >> 6) << 4;
    *min = (sc[s + 4] >> 4) | (sc[s] >> 6) << 4;
  }
}

/* q4_k and q5_k (high: qh present): sub-block s (32 elements) takes the
** low (s even) or high nibbles of qs[s / 2 * 32 + l], and bit s of qh[l]. */
static void k45_to_float(const uint8_t *b, float *dst, int64_t n, int bytes, int high) {
  for (int64_t i = 0; i < n / QK_K; i++, b += bytes) {
    float d = llm_half_at(b), dmin = llm_half_at(b + 2);
    const uint8_t *qh = b + 16, *qs = b + 16 + (high ? 32 : 0);
    for (int s = 0; s < 8; s++) {
      int scale, min;
      k4_scale_min(b + 4, s, &scale, &min);
      float dl = d * scale, ml = dmin * min;
      const uint8_t *q = qs + s / 2 * 32;
      int shift = s % 2 * 4;
      for (int l = 0; l < 32; l++) {
        int v = (q[l] >> shift & 15) + (high && (qh[l] >> s & 1) ? 16 : 0);
        *dst++ = dl * v - ml;
      }
    }
  }
}

void llm_q4_k_to_float(const void *src, float *dst, int64_t n) {
  k45_to_float(src, dst, n, 144, 0);
}

void llm_q5_k_to_float(const void *src, float *dst, int64_t n) {
  k45_to_float(src, dst, n, 176, 1);
}

/* q6_k: sub-block s (16 elements) is scales[s]; with h = s / 8 (which
** 128), k = s % 8 / 2 (which 32 of them) and l < 32 its place there, the
** low 4 bits are nibble k / 2 of ql[h * 64 + k % 2 * 32 + l], the high 2
** bits field k of qh[h * 32 + l]; q is that 6-bit value - 32. */
void llm_q6_k_to_float(const void *src, float *dst, int64_t n) {
  const uint8_t *b = src;
  for (int64_t i = 0; i < n / QK_K; i++, b += 210) {
    float d = llm_half_at(b + 208);
    for (int s = 0; s < 16; s++) {
      int h = s / 8, k = s % 8 / 2, at = s % 2 * 16;
      const uint8_t *ql = b + h * 64 + k % 2 * 32 + at, *qh = b + 128 + h * 32 + at;
      float dl = d * (int8_t)b[192 + s];
      for (int l = 0; l < 16; l++) {
        int q = (ql[l] >> (k / 2 * 4) & 15) | (qh[l] >> (2 * k) & 3) << 4;
        *dst++ = dl * (q - 32);
      }
    }
  }
}
