/*
** quant_k_encode.c: ggml's reference quantizers of the k-quants, float32
** rows to q2_k, q3_k, q4_k, q5_k and q6_k super-blocks (layouts: quant_k.c),
** bit for bit as quantize_row_<type>_ref in ggml-quants.c (llama.cpp
** d32676d). They are what llama-quantize writes for these types without an
** importance matrix: ggml_quantize_chunk calls quantize_<type>, which with
** no weights runs the _ref function over all the rows at once.
**
** Each super-block of 256 is quantized in two passes. First every
** sub-block (16 or 32 values) gets its own float scale (and minimum) from a
** small search (the fit_* functions); then those are quantized to 4- to
** 8-bit integers relative to the block's half-precision d (and dmin), and
** every value is quantized again with the scale the decoder will use, read
** back from the block by quant_k.c's unpack functions.
**
** Bit for bit: every float operation is ggml's, with the same operands in
** the same order, as ggml's library is compiled (SSE2, no FMA): do not turn
** x / d into x * (1 / d), reorder a sum, or let a * b + c become a fused
** multiply-add (GCC does not contract in -std=c11; clang is told below).
** The integer conversions are ggml's too, wrap-arounds included; they only
** matter for blocks holding an inf or a NaN.
*/
#include <math.h>
#include <string.h>

#include "kernels/quant_impl.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Below this, a sub-block counts as all zeros (ggml's GROUP_MAX_EPS). */
#define ZERO_GROUP 1e-15f

/* ggml's rounding to an int: adding 1.5 * 2^23 leaves round-half-even(v)
** + 2^22 in the low 23 bits of the sum's mantissa, for |v| < 2^22; for
** larger v, inf or NaN the result is whatever those bits are, as in ggml. */
static int nearest(float v) {
  float sum = v + 12582912.0f;
  uint32_t bits;
  memcpy(&bits, &sum, sizeof bits);
  return (int)(bits & 0x7fffff) - 0x400000;
}

static int clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- sub-block fits -------------------------------------------------------- */

/* Fits n (<= 32) values to scale * L + min with L in 0..nmax and min <= 0,
** minimizing the sum of w[i] times the squared error (the absolute error
** when abs_error). Starts from the range [min(x, 0), max(x)]; then for
** nstep + 1 level counts nmax + rmin + rdelta * k spread over that range,
** rounds the values, solves the weighted least squares for scale and min
** (min clipped to 0) and keeps the best. Returns the scale, sets *neg_min
** to -min and L to the levels (ggml's make_qkx2_quants). */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                           float *neg_min, float rmin, float rdelta, int nstep, int abs_error) {
  float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    memset(L, 0, (size_t)n);
    *neg_min = -min;
    return 0.0f;
  }
  float iscale = (float)nmax / (max - min), scale = 1 / iscale, best_error = 0;
  for (int i = 0; i < n; i++) {
    L[i] = (uint8_t)clamp(nearest(iscale * (x[i] - min)), 0, nmax);
    float diff = scale * L[i] + min - x[i];
    best_error += w[i] * (abs_error ? fabsf(diff) : diff * diff);
  }
  uint8_t trial[32];
  for (int k = 0; k <= nstep; k++) {
    iscale = (rmin + rdelta * (float)k + (float)nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; i++) {
      int l = clamp(nearest(iscale * (x[i] - min)), 0, nmax);
      trial[i] = (uint8_t)l;
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float error = 0;
      for (int i = 0; i < n; i++) {
        float diff = this_scale * trial[i] + this_min - x[i];
        error += w[i] * (abs_error ? fabsf(diff) : diff * diff);
      }
      if (error < best_error) {
        memcpy(L, trial, (size_t)n);
        best_error = error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *neg_min = -min;
  return scale;
}

/* The value of largest magnitude among n (the first one, if several). */
static float largest(int n, const float *x, float *amax) {
  float max = 0;
  *amax = 0;
  for (int i = 0; i < n; i++)
    if (fabsf(x[i]) > *amax) *amax = fabsf(x[i]), max = x[i];
  return max;
}

/* Fits n (<= 16) values to scale * (L - nmax), L in 0..2 * nmax - 1,
** weighting each error by x^2: the largest value maps to -nmax, then 18
** nearby scales, -(nmax +- 0.1 k) / max, are tried and the one with the
** best least-squares fit kept. Returns the scale (ggml's make_qx_quants
** with rmse_type 1 and no weights). */
static float fit_scale_sym(int n, int nmax, const float *x, uint8_t *L) {
  float amax, max = largest(n, x, &amax);
  if (amax < ZERO_GROUP) {
    memset(L, 0, (size_t)n);
    return 0;
  }
  uint8_t trial[16];
  float scale = 0, best = 0;
  for (int k = 0; k <= 19; k++) { /* k = 0: the plain scale; then -9..9 without 0 */
    if (k == 10) continue;
    float iscale = k == 0 ? (float)-nmax / max : -((float)nmax + 0.1f * (float)(k - 10)) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
      int l = clamp(nearest(iscale * x[i]), -nmax, nmax - 1);
      trial[i] = (uint8_t)(l + nmax);
      float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (k == 0) {
      memcpy(L, trial, (size_t)n);
      scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
      best = scale * sumlx;
    } else if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      memcpy(L, trial, (size_t)n);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/* q3_k's fit of 16 values to scale * (L - 4), L in 0..7, weighting errors
** by x^2: the largest value maps to -4, then up to 5 rounds of moving single
** values to the level that improves the least-squares fit. Returns the
** scale (ggml's make_q3_quants with do_rmse). */
static float fit_scale_q3(const float *x, uint8_t *L) {
  enum { N = 16, NMAX = 4 };
  float amax, max = largest(N, x, &amax);
  if (amax < ZERO_GROUP) {
    memset(L, 0, N);
    return 0;
  }
  float iscale = (float)-NMAX / max, sumlx = 0, suml2 = 0;
  int q[N];
  for (int i = 0; i < N; i++) {
    q[i] = clamp(nearest(iscale * x[i]), -NMAX, NMAX - 1);
    float w = x[i] * x[i];
    sumlx += w * x[i] * q[i];
    suml2 += w * q[i] * q[i];
  }
  for (int round = 0; round < 5; round++) {
    int changed = 0;
    for (int i = 0; i < N; i++) {
      float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * q[i];
      if (slx > 0) {
        float sl2 = suml2 - w * q[i] * q[i];
        int l = clamp(nearest(x[i] * sl2 / slx), -NMAX, NMAX - 1);
        if (l != q[i]) {
          slx += w * x[i] * l;
          sl2 += w * l * l;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            q[i] = l, sumlx = slx, suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < N; i++) L[i] = (uint8_t)(q[i] + NMAX);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ---- packing ------------------------------------------------------------------ */

static void put_half(uint8_t *p, float v) {
  uint16_t h = llm_f32_to_f16(v);
  p[0] = (uint8_t)h;
  p[1] = (uint8_t)(h >> 8);
}

/* 2-bit levels (q2_k, and the low bits of q3_k): byte l of each 32 holds
** four values 32 apart, in 128-value halves. */
static void pack_2bit(const uint8_t L[LLM_QK_K], uint8_t qs[64]) {
  for (int h = 0; h < 2; h++)
    for (int l = 0; l < 32; l++) {
      const uint8_t *v = L + 128 * h + l;
      qs[32 * h + l] = (uint8_t)(v[0] | v[32] << 2 | v[64] << 4 | v[96] << 6);
    }
}

/* The final levels, lo..hi stored as 0..hi - lo: each value quantized again
** with the scale (and min) the decoder will use, from k, the block's
** header unpacked. A sub-block whose scale decodes to zero keeps its fit's
** levels, as in ggml. */
static void requantize(const llm_k_block *k, const float *x, int lo, int hi, uint8_t *L) {
  for (int s = 0; s < LLM_QK_K / k->sub; s++) {
    float d = k->d * k->scale[s], dm = k->dmin * k->min[s];
    if (d == 0) continue;
    const float *xs = x + k->sub * s;
    for (int l = 0; l < k->sub; l++) {
      int q = nearest(k->has_min ? (xs[l] + dm) / d : xs[l] / d);
      L[k->sub * s + l] = (uint8_t)(clamp(q, lo, hi) - lo);
    }
  }
}

/* ---- the types ------------------------------------------------------------------ */

#define Q2_K_BYTES 84
#define Q3_K_BYTES 110
#define Q4_K_BYTES 144
#define Q5_K_BYTES 176
#define Q6_K_BYTES 210

/* q2_k: 16 sub-blocks of 16 at levels 0..3, each with a 4-bit scale and a
** 4-bit min (of d and dmin, at 80 and 82), fitted by absolute error
** weighted by |x|. */
static void q2_k_block(const float *x, uint8_t *b) {
  uint8_t L[LLM_QK_K];
  float w[16], scale[16], neg_min[16], max_scale = 0, max_min = 0;
  memset(b, 0, Q2_K_BYTES);
  for (int s = 0; s < 16; s++) {
    for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * s + l]);
    scale[s] = fit_scale_min(16, 3, x + 16 * s, w, L + 16 * s, &neg_min[s], -0.5f, 0.1f, 15, 1);
    if (scale[s] > max_scale) max_scale = scale[s];
    if (neg_min[s] > max_min) max_min = neg_min[s];
  }
  if (max_scale > 0) {
    float iscale = 15.f / max_scale;
    for (int s = 0; s < 16; s++) b[s] = (uint8_t)nearest(iscale * scale[s]);
    put_half(b + 80, max_scale / 15.f);
  }
  if (max_min > 0) {
    float iscale = 15.f / max_min;
    for (int s = 0; s < 16; s++) b[s] |= (uint8_t)((unsigned)nearest(iscale * neg_min[s]) << 4);
    put_half(b + 82, max_min / 15.f);
  }
  llm_k_block k;
  llm_q2_k_unpack(b, &k);
  requantize(&k, x, 0, 3, L);
  pack_2bit(L, b + 16);
}

/* q3_k: 16 sub-blocks of 16 at levels -4..3 with signed 6-bit scales of d
** (at 108); bit 2 of each level goes to hmask, the low 2 bits to qs. */
static void q3_k_block(const float *x, uint8_t *b) {
  uint8_t L[LLM_QK_K], *hmask = b, *sc = b + 96;
  float scale[16], max_scale = 0, amax = 0;
  memset(b, 0, Q3_K_BYTES);
  for (int s = 0; s < 16; s++) {
    scale[s] = fit_scale_q3(x + 16 * s, L + 16 * s);
    if (fabsf(scale[s]) > amax) amax = fabsf(scale[s]), max_scale = scale[s];
  }
  if (max_scale != 0) {
    float iscale = -32.f / max_scale;
    for (int s = 0; s < 16; s++) {
      int l = nearest(iscale * scale[s]) & 0xff; /* ggml keeps it in an int8_t */
      l = clamp(l < 128 ? l : l - 256, -32, 31) + 32;
      if (s < 8)
        sc[s] = (uint8_t)(l & 15);
      else
        sc[s - 8] |= (uint8_t)((l & 15) << 4);
      sc[8 + s % 4] |= (uint8_t)(l >> 4 << 2 * (s / 4));
    }
    put_half(b + 108, 1 / iscale);
  }
  llm_k_block k;
  llm_q3_k_unpack(b, &k);
  requantize(&k, x, -4, 3, L);
  for (int j = 0; j < LLM_QK_K; j++)
    if (L[j] > 3) {
      hmask[j % 32] |= (uint8_t)(1 << j / 32);
      L[j] -= 4;
    }
  pack_2bit(L, b + 32);
}

/* q4_k and q5_k: 8 sub-blocks of 32 at levels 0..nmax, fitted by squared
** error weighted by the sub-block's RMS plus |x|, with 6-bit scales and
** mins of d and dmin. Writes d, dmin and the 12 scale bytes at b (zeroed
** by the caller) and leaves the levels in L; unpack is the type's own. */
static void k45_fit(const float *x, int nmax, float rmin, int nstep, llm_k_unpack_fn *unpack,
                    uint8_t *b, uint8_t L[LLM_QK_K]) {
  float w[32], scale[8], neg_min[8], max_scale = 0, max_min = 0;
  for (int s = 0; s < 8; s++) {
    const float *xs = x + 32 * s;
    float sum_x2 = 0;
    for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
    float av_x = sqrtf(sum_x2 / 32);
    for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
    scale[s] = fit_scale_min(32, nmax, xs, w, L + 32 * s, &neg_min[s], rmin, 0.1f, nstep, 0);
    if (scale[s] > max_scale) max_scale = scale[s];
    if (neg_min[s] > max_min) max_min = neg_min[s];
  }
  float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t *sc = b + 4; /* the layout of quant_k.c's k4_scale_min */
  for (int s = 0; s < 8; s++) {
    uint8_t ls = (uint8_t)nearest(inv_scale * scale[s]);
    uint8_t lm = (uint8_t)nearest(inv_min * neg_min[s]);
    ls = ls < 63 ? ls : 63;
    lm = lm < 63 ? lm : 63;
    if (s < 4) {
      sc[s] = ls;
      sc[s + 4] = lm;
    } else {
      sc[s + 4] = (uint8_t)((ls & 15) | (lm & 15) << 4);
      sc[s - 4] |= (uint8_t)(ls >> 4 << 6);
      sc[s] |= (uint8_t)(lm >> 4 << 6);
    }
  }
  put_half(b, max_scale / 63.f);
  put_half(b + 2, max_min / 63.f);
  llm_k_block k;
  unpack(b, &k);
  requantize(&k, x, 0, nmax, L);
}

/* q4_k: the levels as nibbles, low then high, of 32 bytes per 64 values. */
static void q4_k_block(const float *x, uint8_t *b) {
  uint8_t L[LLM_QK_K];
  memset(b, 0, Q4_K_BYTES);
  k45_fit(x, 15, -1.f, 20, llm_q4_k_unpack, b, L);
  uint8_t *qs = b + 16;
  for (int j = 0; j < LLM_QK_K; j += 64, qs += 32)
    for (int l = 0; l < 32; l++) qs[l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
}

/* q5_k: as q4_k with bit 4 of value 32 * s + l in bit s of qh[l]. */
static void q5_k_block(const float *x, uint8_t *b) {
  uint8_t L[LLM_QK_K];
  memset(b, 0, Q5_K_BYTES);
  k45_fit(x, 31, -0.5f, 15, llm_q5_k_unpack, b, L);
  uint8_t *qh = b + 16, *qs = b + 48;
  for (int j = 0; j < LLM_QK_K; j += 64, qs += 32)
    for (int l = 0; l < 32; l++) {
      int lo = L[j + l], hi = L[j + l + 32], s = j / 32;
      qh[l] |= (uint8_t)((lo >> 4) << s | (hi >> 4) << (s + 1));
      qs[l] = (uint8_t)((lo & 15) | (hi & 15) << 4);
    }
}

/* q6_k: 16 sub-blocks of 16 at levels -32..31 with int8 scales of d (at
** 208); low 4 bits in ql, high 2 bits in qh. A block whose sub-blocks are
** all (nearly) zero is all zero bytes. */
static void q6_k_block(const float *x, uint8_t *b) {
  uint8_t L[LLM_QK_K];
  float scale[16], max_scale = 0, max_abs = 0;
  memset(b, 0, Q6_K_BYTES);
  for (int s = 0; s < 16; s++) {
    scale[s] = fit_scale_sym(16, 32, x + 16 * s, L + 16 * s);
    if (fabsf(scale[s]) > max_abs) max_abs = fabsf(scale[s]), max_scale = scale[s];
  }
  if (max_abs < ZERO_GROUP) return;
  float iscale = -128.f / max_scale;
  put_half(b + 208, 1 / iscale);
  for (int s = 0; s < 16; s++) {
    int v = nearest(iscale * scale[s]);
    b[192 + s] = (uint8_t)(v < 127 ? v : 127); /* an int8_t: -128 passes */
  }
  llm_k_block k;
  llm_q6_k_unpack(b, &k);
  requantize(&k, x, -32, 31, L);
  for (int h = 0; h < 2; h++) {
    uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
    for (int l = 0; l < 32; l++) {
      const uint8_t *v = L + 128 * h + l;
      ql[l] = (uint8_t)((v[0] & 15) | (v[64] & 15) << 4);
      ql[l + 32] = (uint8_t)((v[32] & 15) | (v[96] & 15) << 4);
      qh[l] = (uint8_t)(v[0] >> 4 | v[32] >> 4 << 2 | v[64] >> 4 << 4 | v[96] >> 4 << 6);
    }
  }
}

static void k_from_float(void (*block)(const float *, uint8_t *), int bytes, const float *src,
                         void *dst, int64_t n) {
  uint8_t *b = dst;
  for (int64_t i = 0; i < n / LLM_QK_K; i++) block(src + LLM_QK_K * i, b + bytes * i);
}

void llm_q2_k_from_float(const float *src, void *dst, int64_t n) {
  k_from_float(q2_k_block, Q2_K_BYTES, src, dst, n);
}

void llm_q3_k_from_float(const float *src, void *dst, int64_t n) {
  k_from_float(q3_k_block, Q3_K_BYTES, src, dst, n);
}

void llm_q4_k_from_float(const float *src, void *dst, int64_t n) {
  k_from_float(q4_k_block, Q4_K_BYTES, src, dst, n);
}

void llm_q5_k_from_float(const float *src, void *dst, int64_t n) {
  k_from_float(q5_k_block, Q5_K_BYTES, src, dst, n);
}

void llm_q6_k_from_float(const float *src, void *dst, int64_t n) {
  k_from_float(q6_k_block, Q6_K_BYTES, src, dst, n);
}
