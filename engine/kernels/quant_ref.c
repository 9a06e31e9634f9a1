/*
** quant_ref.c: the reference kernels of the plain types (f32, f16, bf16)
** and of ggml's 32-element blocks (q4_0, q4_1, q5_0, q5_1, q8_0), and the
** scalar half and bfloat16 conversions (declared in qtypes.h).
**
** A 32-element block is a half d (the step), for q4_1/q5_1 a half m (the
** minimum), for q5_* 4 bytes qh holding bit 4 of element j in bit j, then
** the low bits: q8_0 has 32 int8; the others 16 bytes whose low nibbles
** are elements 0..15 and high nibbles 16..31. An element is q * d with q
** centered (q4_0: nibble - 8, q5_0: 5 bits - 16), or q * d + m.
** Values are stored little-endian; the f32 rows are copied, which assumes
** a little-endian machine like the rest of the engine.
**
** The quantizers (from_float) are ggml's reference ones, which llama-quantize
** runs for these types when it has no importance matrix. At the end: the
** q8_0 and q8_1 quantizers of activations (vec_from_float), which follow
** ggml's x86 CPU backend rather than its reference.
*/
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/quant_impl.h"

static uint32_t float_bits(float f) {
  uint32_t w;
  memcpy(&w, &f, sizeof w);
  return w;
}

static float bits_float(uint32_t w) {
  float f;
  memcpy(&f, &w, sizeof f);
  return f;
}

/* ---- scalar conversions ------------------------------------------------- */

float llm_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, mant = h & 0x3ff;
  if (exp == 0) { /* zero or subnormal: mant * 2^-24, exact in float */
    float v = (float)mant * 0x1p-24f;
    return sign ? -v : v;
  }
  /* inf, or a NaN that keeps its payload and is made quiet: ggml's does,
  ** since the x86 multiply it goes through quiets it. */
  if (exp == 0x1f) return bits_float(sign | 0x7f800000 | mant << 13 | (mant ? 0x400000 : 0));
  return bits_float(sign | (exp + 127 - 15) << 23 | mant << 13);
}

/* v >> shift rounded to nearest, ties to even (1 <= shift <= 31). */
static uint32_t shift_round_even(uint32_t v, int shift) {
  uint32_t kept = v >> shift, rest = v & ((1u << shift) - 1), half = 1u << (shift - 1);
  return kept + (rest > half || (rest == half && (kept & 1)));
}

uint16_t llm_f32_to_f16(float f) {
  uint32_t w = float_bits(f), a = w & 0x7fffffff;
  uint16_t sign = (uint16_t)(w >> 16 & 0x8000);
  if (a > 0x7f800000) return sign | 0x7e00; /* NaN */
  if (a >= 0x477ff000) return sign | 0x7c00; /* >= 65520, half-way past 65504: inf */
  if (a <= 0x33000000) return sign; /* <= 2^-25, half of the smallest half: 0 */
  if (a < 0x38800000) { /* below 2^-14: a subnormal half, in units of 2^-24 */
    uint32_t exp = a >> 23, mant = (a & 0x7fffff) | 0x800000;
    return sign | (uint16_t)shift_round_even(mant, (int)(126 - exp));
  }
  /* Rebias the exponent and drop 13 mantissa bits; a carry out of the
  ** mantissa correctly moves the value to the next binade. */
  return sign | (uint16_t)shift_round_even(a - ((127u - 15) << 23), 13);
}

float llm_bf16_to_f32(uint16_t h) { return bits_float((uint32_t)h << 16); }

uint16_t llm_f32_to_bf16(float f) {
  uint32_t w = float_bits(f);
  if ((w & 0x7fffffff) > 0x7f800000) return (uint16_t)(w >> 16 | 0x40); /* NaN, quiet */
  return (uint16_t)shift_round_even(w, 16); /* carries into inf when too large */
}

/* ---- plain types ---------------------------------------------------------- */

void llm_f32_to_float(const void *src, float *dst, int64_t n) {
  memcpy(dst, src, (size_t)n * sizeof *dst);
}

void llm_f32_from_float(const float *src, void *dst, int64_t n) {
  memcpy(dst, src, (size_t)n * sizeof *src);
}

void llm_f16_to_float(const void *src, float *dst, int64_t n) {
  const uint8_t *p = src;
  for (int64_t i = 0; i < n; i++) dst[i] = llm_half_at(p + 2 * i);
}

void llm_bf16_to_float(const void *src, float *dst, int64_t n) {
  const uint8_t *p = src;
  for (int64_t i = 0; i < n; i++)
    dst[i] = llm_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
}

static void put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

void llm_f16_from_float(const float *src, void *dst, int64_t n) {
  uint8_t *p = dst;
  for (int64_t i = 0; i < n; i++) put_u16(p + 2 * i, llm_f32_to_f16(src[i]));
}

void llm_bf16_from_float(const float *src, void *dst, int64_t n) {
  uint8_t *p = dst;
  for (int64_t i = 0; i < n; i++) put_u16(p + 2 * i, llm_f32_to_bf16(src[i]));
}

/* ---- 32-element blocks --------------------------------------------------- */

const llm_nibble_layout llm_q4_0_layout = {18, 0, 0, 8};
const llm_nibble_layout llm_q4_1_layout = {20, 1, 0, 0};
const llm_nibble_layout llm_q5_0_layout = {22, 0, 1, 16};
const llm_nibble_layout llm_q5_1_layout = {24, 1, 1, 0};

void llm_nibble_unpack(const llm_nibble_layout *t, const uint8_t *src, int8_t q[32]) {
  const uint8_t *p = src + (t->has_min ? 4 : 2);
  uint32_t high = 0;
  if (t->has_high) {
    high = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    p += 4;
  }
  for (int j = 0; j < 32; j++) {
    int v = (j < 16 ? p[j] & 15 : p[j - 16] >> 4) | (int)(high >> j & 1) << 4;
    q[j] = (int8_t)(t->has_min ? v : v - t->center);
  }
}

static void nibbles_to_float(const llm_nibble_layout *t, const uint8_t *src, float *dst,
                             int64_t n) {
  int8_t q[32];
  for (int64_t b = 0; b < n / 32; b++, src += t->bytes, dst += 32) {
    float d = llm_half_at(src), m = t->has_min ? llm_half_at(src + 2) : 0.0f;
    llm_nibble_unpack(t, src, q);
    for (int j = 0; j < 32; j++) dst[j] = t->has_min ? q[j] * d + m : q[j] * d;
  }
}

void llm_q4_0_to_float(const void *src, float *dst, int64_t n) {
  nibbles_to_float(&llm_q4_0_layout, src, dst, n);
}

void llm_q4_1_to_float(const void *src, float *dst, int64_t n) {
  nibbles_to_float(&llm_q4_1_layout, src, dst, n);
}

void llm_q5_0_to_float(const void *src, float *dst, int64_t n) {
  nibbles_to_float(&llm_q5_0_layout, src, dst, n);
}

void llm_q5_1_to_float(const void *src, float *dst, int64_t n) {
  nibbles_to_float(&llm_q5_1_layout, src, dst, n);
}

void llm_q8_0_to_float(const void *src, float *dst, int64_t n) {
  const uint8_t *p = src;
  for (int64_t b = 0; b < n / 32; b++, p += 34, dst += 32) {
    float d = llm_half_at(p);
    for (int j = 0; j < 32; j++) dst[j] = (int8_t)p[2 + j] * d;
  }
}

/* ggml's reference quantizers of q4_0, q4_1, q5_0 and q5_1 (bit for bit as
** quantize_row_<type>_ref in ggml-quants.c):
**   without m: d = -(the value of largest magnitude) / center, and element x
**     gets x * (1 / d) + center + 0.5, truncated (so rounded), capped at
**     2 * center - 1 (x = -max would give 2 * center);
**   with m: m = the minimum, d = (max - m) / (levels - 1), and x gets
**     (x - m) * (1 / d) + 0.5, truncated; q4_1 caps it at 15, q5_1 does not.
** ggml truncates with a C cast to int8_t (q5_1: uint8_t), which x86 does
** by converting to int32 (INT32_MIN for a NaN or a value out of its range)
** and keeping the low byte: low_byte_x86 reproduces that, and the cap
** compares the byte as signed, as ggml's does. With d and 1 / d finite the
** sums stay within 0..2 * center (0..levels); an inf or NaN in the block,
** or a 1 / d that overflows, gives non-numbers, which become byte 0. */
static uint8_t low_byte_x86(float v) {
  int32_t t = v >= -2147483648.0f && v < 2147483648.0f ? (int32_t)v : INT32_MIN;
  return (uint8_t)(uint32_t)t;
}

static void nibble_block_from_float(const llm_nibble_layout *t, const float *x, uint8_t *p) {
  int levels = t->has_high ? 32 : 16;
  float d, min = 0.0f, offset;
  if (t->has_min) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
      if (x[j] < lo) lo = x[j];
      if (x[j] > hi) hi = x[j];
    }
    min = lo;
    d = (hi - lo) / (float)(levels - 1);
    offset = 0.5f;
  } else {
    float amax = 0.0f, max = 0.0f; /* the first value of largest magnitude */
    for (int j = 0; j < 32; j++)
      if (amax < fabsf(x[j])) amax = fabsf(x[j]), max = x[j];
    d = max / (float)-t->center;
    offset = (float)t->center + 0.5f;
  }
  float inv = d != 0.0f ? 1.0f / d : 0.0f;
  put_u16(p, llm_f32_to_f16(d));
  if (t->has_min) put_u16(p + 2, llm_f32_to_f16(min));

  uint8_t q[32];
  for (int j = 0; j < 32; j++) {
    uint8_t b = low_byte_x86((t->has_min ? (x[j] - min) * inv : x[j] * inv) + offset);
    int v = b < 128 ? b : b - 256; /* the cap compares the byte as an int8_t */
    q[j] = t->has_min && t->has_high ? b : (uint8_t)(v < levels - 1 ? v : levels - 1);
  }
  uint8_t *qh = p + (t->has_min ? 4 : 2), *qs = qh + (t->has_high ? 4 : 0);
  uint32_t high = 0;
  for (int j = 0; j < 16; j++) {
    if (t->has_high) { /* nibbles masked, bit 4 to high */
      qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
      high |= (uint32_t)(q[j] >> 4 & 1) << j | (uint32_t)(q[j + 16] >> 4 & 1) << (j + 16);
    } else { /* not masked: ggml ORs the bytes as they are */
      qs[j] = (uint8_t)(q[j] | q[j + 16] << 4);
    }
  }
  if (t->has_high)
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(high >> 8 * k);
}

static void nibbles_from_float(const llm_nibble_layout *t, const float *src, void *dst,
                               int64_t n) {
  uint8_t *p = dst;
  for (int64_t b = 0; b < n / 32; b++) nibble_block_from_float(t, src + 32 * b, p + t->bytes * b);
}

void llm_q4_0_from_float(const float *src, void *dst, int64_t n) {
  nibbles_from_float(&llm_q4_0_layout, src, dst, n);
}

void llm_q4_1_from_float(const float *src, void *dst, int64_t n) {
  nibbles_from_float(&llm_q4_1_layout, src, dst, n);
}

void llm_q5_0_from_float(const float *src, void *dst, int64_t n) {
  nibbles_from_float(&llm_q5_0_layout, src, dst, n);
}

void llm_q5_1_from_float(const float *src, void *dst, int64_t n) {
  nibbles_from_float(&llm_q5_1_layout, src, dst, n);
}

/* ggml's reference: d = amax / 127, q = round(x / d) computed as x * (1 / d).
** amax is taken as ggml does: a NaN replaces it, and the next value then
** replaces the NaN. */
void llm_q8_0_from_float(const float *src, void *dst, int64_t n) {
  uint8_t *p = dst;
  for (int64_t b = 0; b < n / 32; b++, p += 34, src += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = amax > fabsf(src[j]) ? amax : fabsf(src[j]);
    float d = amax / 127, inv = d != 0.0f ? 1.0f / d : 0.0f;
    put_u16(p, llm_f32_to_f16(d));
    for (int j = 0; j < 32; j++) {
      /* |x| <= amax keeps x / d within +-127, unless x / d is not a number
      ** (an inf or NaN in the block, 1 / d overflowing) or a NaN hid part
      ** of the block from amax. ggml converts without a check; on x86 it
      ** gives 0 for the non-numbers, and so does this for all of these. */
      float r = roundf(src[j] * inv);
      p[2 + j] = (uint8_t)(r >= -127.0f && r <= 127.0f ? (int8_t)r : 0);
    }
  }
}

/* ---- activations, as ggml's x86 CPU backend quantizes them --------------- */

/* ggml's CPU backend does not use the reference quantizer above for the
** activations of a matrix product: built with AVX (llama.cpp here is a
** GGML_NATIVE build on an AVX-512 machine, so it is), it runs its own
** quantize_row_q8_0 / q8_1 (ggml-cpu/arch/x86/quants.c), which differ from
** the reference in three ways, all reproduced here:
**   - the multiplier is 127 / amax, not 1 / d with d = amax / 127, which
**     rounds differently;
**   - x * (127 / amax) is rounded half to even (_mm256_round_ps), not half
**     away from zero (roundf): 2.5 gives 2, not 3;
**   - the float to int32 conversion gives INT32_MIN for a NaN or a value
**     out of range, then packing to int8 saturates (-128 .. 127).
** The last one and the order of the amax search only matter for blocks
** holding an inf or a NaN. rintf rounds half to even in the default
** rounding mode, which the engine never changes. */

/* x86's maxps: a > b ? a : b, so the second operand when either is a NaN. */
static float max_x86(float a, float b) { return a > b ? a : b; }

/* The largest |x[j]| of a block, found in the order of ggml's AVX code:
** 8 lanes over the 4 vectors of 8 values, then halving 8 -> 4 -> 2 -> 1. */
static float amax32_x86(const float *x) {
  float lane[8];
  for (int l = 0; l < 8; l++) lane[l] = fabsf(x[l]);
  for (int v = 1; v < 4; v++)
    for (int l = 0; l < 8; l++) lane[l] = max_x86(lane[l], fabsf(x[8 * v + l]));
  for (int l = 0; l < 4; l++) lane[l] = max_x86(lane[l + 4], lane[l]);
  for (int l = 0; l < 2; l++) lane[l] = max_x86(lane[l], lane[l + 2]);
  return max_x86(lane[0], lane[1]);
}

/* Quantizes one block of 32 into q; returns d, and in *sum the sum of the
** int32 values before saturation (wrapping, as the vector adds do). */
static float q8_block_x86(const float *x, int8_t q[32], uint32_t *sum) {
  float amax = amax32_x86(x);
  float d = amax / 127.0f, mul = amax != 0.0f ? 127.0f / amax : 0.0f;
  uint32_t s = 0;
  for (int j = 0; j < 32; j++) {
    float r = rintf(x[j] * mul);
    int32_t v = r >= -2147483648.0f && r < 2147483648.0f ? (int32_t)r : INT32_MIN;
    s += (uint32_t)v;
    q[j] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
  }
  *sum = s;
  return d;
}

void llm_q8_0_vec_from_float(const float *src, void *dst, int64_t n) {
  uint8_t *p = dst;
  for (int64_t b = 0; b < n / 32; b++, p += LLM_Q8_0_BYTES, src += 32) {
    uint32_t sum;
    float d = q8_block_x86(src, (int8_t *)(p + 2), &sum);
    put_u16(p, llm_f32_to_f16(d));
  }
}

/* q8_1 adds s = d * (the sum of the integers), rounded to a half. */
void llm_q8_1_vec_from_float(const float *src, void *dst, int64_t n) {
  uint8_t *p = dst;
  for (int64_t b = 0; b < n / 32; b++, p += LLM_Q8_1_BYTES, src += 32) {
    uint32_t sum;
    float d = q8_block_x86(src, (int8_t *)(p + 4), &sum);
    put_u16(p, llm_f32_to_f16(d));
    put_u16(p + 2, llm_f32_to_f16(d * (float)(int32_t)sum));
  }
}
