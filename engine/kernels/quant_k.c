/*
** quant_k.c: ggml's k-quants (q2_k .. q6_k), whose super-blocks of 256
** elements are split into sub-blocks of 16 or 32, each with its own small
** integer scale (and for q2/q4/q5 a minimum) that multiplies the block's
** half-precision d (and dmin). Each type has an unpack function (into an
** llm_k_block, quant_impl.h), used by to_float here and by the dot products
** of quant_dot.c. At the end: the q8_k quantizer of activations.
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
#include <math.h>
#include <string.h>

#include "kernels/quant_impl.h"

/* q2_k: sub-block s (16 elements) is scales[s]; its elements come from
** the 2-bit field s % 8 / 2 of qs[s / 8 * 32 + s % 2 * 16 + l]. */
void llm_q2_k_unpack(const uint8_t *b, llm_k_block *k) {
  k->d = llm_half_at(b + 80), k->dmin = llm_half_at(b + 82);
  k->sub = 16, k->has_min = 1;
  for (int s = 0; s < 16; s++) {
    k->scale[s] = b[s] & 15, k->min[s] = b[s] >> 4;
    const uint8_t *q = b + 16 + s / 8 * 32 + s % 2 * 16;
    int shift = s % 8 / 2 * 2;
    for (int l = 0; l < 16; l++) k->q[16 * s + l] = (int8_t)(q[l] >> shift & 3);
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
void llm_q3_k_unpack(const uint8_t *b, llm_k_block *k) {
  k->d = llm_half_at(b + 108), k->dmin = 0.0f;
  k->sub = 16, k->has_min = 0;
  for (int s = 0; s < 16; s++) {
    k->scale[s] = (int16_t)q3_k_scale(b + 96, s), k->min[s] = 0;
    int at = s % 2 * 16, shift = s % 8 / 2 * 2;
    const uint8_t *q = b + 32 + s / 8 * 32 + at, *hm = b + at;
    for (int l = 0; l < 16; l++)
      k->q[16 * s + l] = (int8_t)((q[l] >> shift & 3) - (hm[l] >> (s / 2) & 1 ? 0 : 4));
  }
}

/* The 6-bit scale and min of sub-block s (0..7) of q4_k and q5_k: for
** s < 4 the low 6 bits of bytes s and s + 4; for s >= 4 the nibbles of
** byte s + 4, topped by the 2 high bits of bytes s - 4 and s. */
static void k4_scale_min(const uint8_t *sc, int s, int16_t *scale, int16_t *min) {
  if (s < 4) {
    *scale = sc[s] & 63;
    *min = sc[s + 4] & 63;
  } else {
    *scale = (int16_t)((sc[s + 4] & 15) | (sc[s - 4] >> 6) << 4);
    *min = (int16_t)((sc[s + 4] >> 4) | (sc[s] >> 6) << 4);
  }
}

/* q4_k and q5_k (high: qh present): sub-block s (32 elements) takes the
** low (s even) or high nibbles of qs[s / 2 * 32 + l], and bit s of qh[l]. */
static void k45_unpack(const uint8_t *b, llm_k_block *k, int high) {
  k->d = llm_half_at(b), k->dmin = llm_half_at(b + 2);
  k->sub = 32, k->has_min = 1;
  const uint8_t *qh = b + 16, *qs = b + 16 + (high ? 32 : 0);
  for (int s = 0; s < 8; s++) {
    k4_scale_min(b + 4, s, &k->scale[s], &k->min[s]);
    const uint8_t *q = qs + s / 2 * 32;
    int shift = s % 2 * 4;
    for (int l = 0; l < 32; l++)
      k->q[32 * s + l] = (int8_t)((q[l] >> shift & 15) + (high && (qh[l] >> s & 1) ? 16 : 0));
  }
}

void llm_q4_k_unpack(const uint8_t *b, llm_k_block *k) { k45_unpack(b, k, 0); }

void llm_q5_k_unpack(const uint8_t *b, llm_k_block *k) { k45_unpack(b, k, 1); }

/* q6_k: sub-block s (16 elements) is scales[s]; with h = s / 8 (which
** 128), j = s % 8 / 2 (which 32 of them) and l < 32 its place there, the
** low 4 bits are nibble j / 2 of ql[h * 64 + j % 2 * 32 + l], the high 2
** bits field j of qh[h * 32 + l]; q is that 6-bit value - 32. */
void llm_q6_k_unpack(const uint8_t *b, llm_k_block *k) {
  k->d = llm_half_at(b + 208), k->dmin = 0.0f;
  k->sub = 16, k->has_min = 0;
  for (int s = 0; s < 16; s++) {
    int h = s / 8, j = s % 8 / 2, at = s % 2 * 16;
    const uint8_t *ql = b + h * 64 + j % 2 * 32 + at, *qh = b + 128 + h * 32 + at;
    k->scale[s] = (int8_t)b[192 + s], k->min[s] = 0;
    for (int l = 0; l < 16; l++) {
      int q = (ql[l] >> (j / 2 * 4) & 15) | (qh[l] >> (2 * j) & 3) << 4;
      k->q[16 * s + l] = (int8_t)(q - 32);
    }
  }
}

/* Dequantizes whole super-blocks of `bytes` bytes, unpacked by unpack. */
static void k_to_float(llm_k_unpack_fn *unpack, int bytes, const void *src, float *dst, int64_t n) {
  const uint8_t *b = src;
  llm_k_block k;
  for (int64_t i = 0; i < n / LLM_QK_K; i++, b += bytes) {
    unpack(b, &k);
    for (int s = 0; s < LLM_QK_K / k.sub; s++) {
      const int8_t *q = k.q + s * k.sub;
      float dl = k.d * k.scale[s];
      if (k.has_min) {
        float ml = k.dmin * k.min[s];
        for (int l = 0; l < k.sub; l++) *dst++ = dl * q[l] - ml;
      } else {
        for (int l = 0; l < k.sub; l++) *dst++ = dl * q[l];
      }
    }
  }
}

void llm_q2_k_to_float(const void *src, float *dst, int64_t n) {
  k_to_float(llm_q2_k_unpack, 84, src, dst, n);
}

void llm_q3_k_to_float(const void *src, float *dst, int64_t n) {
  k_to_float(llm_q3_k_unpack, 110, src, dst, n);
}

void llm_q4_k_to_float(const void *src, float *dst, int64_t n) {
  k_to_float(llm_q4_k_unpack, 144, src, dst, n);
}

void llm_q5_k_to_float(const void *src, float *dst, int64_t n) {
  k_to_float(llm_q5_k_unpack, 176, src, dst, n);
}

void llm_q6_k_to_float(const void *src, float *dst, int64_t n) {
  k_to_float(llm_q6_k_unpack, 210, src, dst, n);
}

/* ---- q8_k: activations for the k-quants ------------------------------------ */

/* ggml's CPU backend quantizes activations to q8_K with its reference
** quantize_row_q8_K_ref (the x86 quantize_row_q8_K calls it), so this is
** both. Per block of 256: max = the first value of the largest magnitude
** (NaNs are skipped), scale = -127 / max (the sign flip is ggml's), q =
** round(scale * x) capped at 127, d = 1 / scale (a float, not a half), and
** bsums[k] = the sum of q[16k .. 16k + 15]. ggml rounds with the float
** adder trick (x + 1.5 * 2^23), i.e. half to even like rintf here; for a
** non-number (an inf in the block makes scale 0 and inf * 0 a NaN; a max
** below 127 / FLT_MAX makes scale infinite) its trick gives 0, as here.
** An all-zero block is d = 0, q = 0; ggml then leaves bsums as they were,
** this writes zeros. */
void llm_q8_k_vec_from_float(const float *src, void *dst, int64_t n) {
  uint8_t *p = dst;
  for (int64_t b = 0; b < n / LLM_QK_K; b++, p += LLM_Q8_K_BYTES, src += LLM_QK_K) {
    float amax = 0.0f, max = 0.0f, d = 0.0f;
    for (int j = 0; j < LLM_QK_K; j++)
      if (fabsf(src[j]) > amax) amax = fabsf(src[j]), max = src[j];
    int8_t *q = (int8_t *)(p + 4);
    memset(q, 0, LLM_QK_K);
    if (amax != 0.0f) {
      float scale = -127.0f / max;
      for (int j = 0; j < LLM_QK_K; j++) {
        float v = scale * src[j];
        int r = isfinite(v) ? (int)rintf(v) : 0;
        q[j] = (int8_t)(r > 127 ? 127 : r < -128 ? -128 : r);
      }
      d = 1 / scale;
    }
    memcpy(p, &d, sizeof d); /* little-endian, as the rest of the engine */
    for (int k = 0; k < LLM_QK_K / 16; k++) {
      int sum = 0;
      for (int l = 0; l < 16; l++) sum += q[16 * k + l];
      p[260 + 2 * k] = (uint8_t)(sum & 0xff);
      p[261 + 2 * k] = (uint8_t)((unsigned)sum >> 8 & 0xff);
    }
  }
}
