/*
** quant_dot.c: the vec_dot kernels of the type table (qtypes.h): the dot
** product of one weight row with one activation row already converted to
** the weight type's vec_type, as ggml's CPU backend computes matrix
** products: f32 . f32, f16 . f16, bf16 . bf16, q4_0 / q5_0 / q8_0 . q8_0,
** q4_1 / q5_1 . q8_1, and q2_k .. q6_k . q8_k.
**
** The arithmetic is that of ggml's portable kernels (ggml-cpu/quants.c and
** vec.cpp, llama.cpp d32676d): for the plain types, float products summed
** in double; for the blocks, an exact integer sum per block, times the
** product of the two scales in float, accumulated in float in block order.
** Two deviations, both within float rounding: the generic q4_0 kernel
** multiplies (sum * dx) * dy where every other one, and ggml's x86 code,
** takes sum * (dx * dy), which is used for all here; and the generic
** k-quant kernels spread a super-block's integer sum over 8 float lanes,
** where this sums it whole (exactly) and rounds once. The minimum terms use
** the activation's own sums (q8_1's s, q8_k's bsums), as ggml does.
**
** ggml's x86 f16 kernel, built for a CPU with AVX512-FP16 (as llama.cpp is
** here), multiplies and adds in half precision, off by about 1e-3 of the
** result and overflowing past 65504; this does not follow it. ggml uses
** that kernel only for one activation column (one token); for batches its
** llamafile sgemm sums f16 products in float, like this.
**
** Activation layouts: quant_impl.h (LLM_Q8_*_BYTES).
*/
#include <string.h>

#include "kernels/quant_impl.h"

/* ---- plain types --------------------------------------------------------------- */

static float f32_at(const uint8_t *p) {
  float f;
  memcpy(&f, p, sizeof f); /* little-endian, as the rest of the engine */
  return f;
}

static float bf16_at(const uint8_t *p) {
  return llm_bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* Products of two elements of `size` bytes read by at, summed in double.
** For f16 and bf16 the float products are exact. */
static float plain_vec_dot(float (*at)(const uint8_t *), int size, const void *row, const void *act,
                           int64_t n) {
  const uint8_t *w = row, *a = act;
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++, w += size, a += size) sum += at(w) * at(a);
  return (float)sum;
}

float llm_f32_vec_dot(const void *row, const void *act, int64_t n) {
  return plain_vec_dot(f32_at, 4, row, act, n);
}

float llm_f16_vec_dot(const void *row, const void *act, int64_t n) {
  return plain_vec_dot(llm_half_at, 2, row, act, n);
}

float llm_bf16_vec_dot(const void *row, const void *act, int64_t n) {
  return plain_vec_dot(bf16_at, 2, row, act, n);
}

/* ---- 32-element blocks ---------------------------------------------------------- */

/* The integer dot of 32 weights with 32 int8 activations. The int8 values
** are read through int8_t pointers: GCC 12 with VNNI (-march=native here)
** vectorizes "sum += q[j] * (int8_t)byte[j]" into vpdpbusd as if the bytes
** were unsigned, a wrong result. */
static int32_t dot32(const int8_t *q, const int8_t *a) {
  int32_t sum = 0;
  for (int j = 0; j < 32; j++) sum += q[j] * a[j];
  return sum;
}

/* q4_0 and q5_0 with q8_0: sum of d * isum; q4_1 and q5_1 with q8_1: sum of
** d * isum + m * s, where m * s stands for m times the sum of the block's
** activations (s = the q8_1 block's d times the sum of its integers). */
static float nibble_vec_dot(const llm_nibble_layout *t, const void *row, const void *act,
                            int64_t n) {
  const uint8_t *w = row, *a = act;
  int a_bytes = t->has_min ? LLM_Q8_1_BYTES : LLM_Q8_0_BYTES, a_ints = t->has_min ? 4 : 2;
  int8_t q[32];
  float sum = 0.0f;
  for (int64_t b = 0; b < n / 32; b++, w += t->bytes, a += a_bytes) {
    llm_nibble_unpack(t, w, q);
    float d = llm_half_at(w) * llm_half_at(a);
    int32_t isum = dot32(q, (const int8_t *)(a + a_ints));
    if (t->has_min)
      sum += d * isum + llm_half_at(w + 2) * llm_half_at(a + 2);
    else
      sum += d * isum;
  }
  return sum;
}

float llm_q4_0_vec_dot(const void *row, const void *act, int64_t n) {
  return nibble_vec_dot(&llm_q4_0_layout, row, act, n);
}

float llm_q4_1_vec_dot(const void *row, const void *act, int64_t n) {
  return nibble_vec_dot(&llm_q4_1_layout, row, act, n);
}

float llm_q5_0_vec_dot(const void *row, const void *act, int64_t n) {
  return nibble_vec_dot(&llm_q5_0_layout, row, act, n);
}

float llm_q5_1_vec_dot(const void *row, const void *act, int64_t n) {
  return nibble_vec_dot(&llm_q5_1_layout, row, act, n);
}

float llm_q8_0_vec_dot(const void *row, const void *act, int64_t n) {
  const uint8_t *w = row, *a = act;
  float sum = 0.0f;
  for (int64_t b = 0; b < n / 32; b++, w += LLM_Q8_0_BYTES, a += LLM_Q8_0_BYTES) {
    float d = llm_half_at(w) * llm_half_at(a);
    sum += d * dot32((const int8_t *)(w + 2), (const int8_t *)(a + 2));
  }
  return sum;
}

/* ---- k-quants . q8_k ------------------------------------------------------------- */

/* Per super-block: isum = sum over sub-blocks of scale * (integer dot),
** msum = sum of min * (the sub-block's activation sum, from bsums); adds
** (d * ad) * isum - (dmin * ad) * msum, ad being the q8_k block's d. The
** integers fit in int32: at most 256 * 32 * 128 * 128 = 2^27 (q6_k). */
static float k_vec_dot(llm_k_unpack_fn *unpack, int bytes, const void *row, const void *act,
                       int64_t n) {
  const uint8_t *w = row, *a = act;
  llm_k_block k;
  float sum = 0.0f;
  for (int64_t b = 0; b < n / LLM_QK_K; b++, w += bytes, a += LLM_Q8_K_BYTES) {
    unpack(w, &k);
    const int8_t *aq = (const int8_t *)(a + 4); /* see dot32 */
    const uint8_t *bsums = a + 260;
    int32_t isum = 0, msum = 0;
    for (int s = 0; s < LLM_QK_K / k.sub; s++) {
      int32_t part = 0;
      for (int l = s * k.sub; l < (s + 1) * k.sub; l++) part += k.q[l] * aq[l];
      isum += k.scale[s] * part;
      if (!k.has_min) continue;
      int32_t asum = 0;
      for (int j = s * k.sub / 16; j < (s + 1) * k.sub / 16; j++)
        asum += (int16_t)(bsums[2 * j] | bsums[2 * j + 1] << 8);
      msum += k.min[s] * asum;
    }
    float ad = f32_at(a);
    if (k.has_min)
      sum += ad * k.d * isum - ad * k.dmin * msum;
    else
      sum += ad * k.d * isum;
  }
  return sum;
}

float llm_q2_k_vec_dot(const void *row, const void *act, int64_t n) {
  return k_vec_dot(llm_q2_k_unpack, 84, row, act, n);
}

float llm_q3_k_vec_dot(const void *row, const void *act, int64_t n) {
  return k_vec_dot(llm_q3_k_unpack, 110, row, act, n);
}

float llm_q4_k_vec_dot(const void *row, const void *act, int64_t n) {
  return k_vec_dot(llm_q4_k_unpack, 144, row, act, n);
}

float llm_q5_k_vec_dot(const void *row, const void *act, int64_t n) {
  return k_vec_dot(llm_q5_k_unpack, 176, row, act, n);
}

float llm_q6_k_vec_dot(const void *row, const void *act, int64_t n) {
  return k_vec_dot(llm_q6_k_unpack, 210, row, act, n);
}
