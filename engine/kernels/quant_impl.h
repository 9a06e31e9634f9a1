/*
** quant_impl.h: the kernels behind the type table of qtypes.c, shared by
** the files that define them: quant_ref.c (the plain types and the
** 32-element blocks), quant_k.c (the k-quants' 256-element blocks),
** quant_k_encode.c (the k-quants' quantizers) and quant_dot.c (the dot
** products with quantized activations). The rest of the engine reaches them
** through llm_qtype_get(type).
**
** Each to_float reproduces ggml's dequantization bit for bit (layouts and
** formulas from ggml-common.h and ggml-quants.c, llama.cpp d32676d). The
** products of a half-precision scale and small integers have at most 24
** significant bits, so they are exact in float and a value is rounded once,
** when a minimum is added; a fused multiply-add cannot change it. The order
** of the factors still shows in the sign of a zero, e.g. (d * scale) * 0
** against d * (scale * 0), so the kernels keep ggml's order.
**
** The block types are unpacked into their small integers (below) by one
** function per layout, which both to_float and vec_dot use.
*/
#ifndef LLM_QUANT_IMPL_H
#define LLM_QUANT_IMPL_H

#include <stdint.h>

#include "kernels/qtypes.h"

#define LLM_QK_K 256 /* elements of a k-quant super-block */

/* Sizes of the activation blocks (ggml-common.h): q8_0 = half d + 32 int8;
** q8_1 = half d, half s (d times the sum of the integers) + 32 int8;
** q8_k = float d + 256 int8 + 16 int16 bsums (sums of 16 integers each). */
#define LLM_Q8_0_BYTES 34
#define LLM_Q8_1_BYTES 36
#define LLM_Q8_K_BYTES 292

/* The half-precision float stored little-endian at p (any alignment). */
static inline float llm_half_at(const uint8_t *p) {
  return llm_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* ---- unpacked blocks -------------------------------------------------------- */

/* The layout of a 32-element block of 4- or 5-bit values (q4_0, q4_1, q5_0,
** q5_1): a half d, for q*_1 a half m, for q5_* 4 bytes of fifth bits, then
** 16 bytes of nibbles. An element is q * d + m, or q * d with q centered. */
typedef struct llm_nibble_layout {
  int bytes;    /* block size */
  int has_min;  /* a half m follows d: elements are q * d + m */
  int has_high; /* 4 bytes of fifth bits follow the halves */
  int center;   /* subtracted from q when there is no m */
} llm_nibble_layout;

extern const llm_nibble_layout llm_q4_0_layout, llm_q4_1_layout, llm_q5_0_layout,
    llm_q5_1_layout;

/* q[j] = the integer of element j of the block at src, already centered
** when the type has no m (q4_0: -8..7, q5_0: -16..15; else 0..15 / 0..31). */
void llm_nibble_unpack(const llm_nibble_layout *t, const uint8_t *src, int8_t q[32]);

/* A k-quant super-block: element i is d * scale[s] * q[i] - dmin * min[s]
** with s = i / sub (without the "- dmin * min[s]" when has_min is 0). */
typedef struct llm_k_block {
  float d, dmin;          /* dmin is 0 when has_min is 0 */
  int sub;                /* elements per sub-block: 16 or 32 */
  int has_min;            /* q2_k, q4_k, q5_k */
  int16_t scale[16];      /* LLM_QK_K / sub of them */
  int16_t min[16];
  int8_t q[LLM_QK_K];     /* signed for q3_k (-4..3) and q6_k (-32..31) */
} llm_k_block;

/* One function per k-quant: unpacks the block at src into *k. */
typedef void llm_k_unpack_fn(const uint8_t *src, llm_k_block *k);
llm_k_unpack_fn llm_q2_k_unpack, llm_q3_k_unpack, llm_q4_k_unpack, llm_q5_k_unpack,
    llm_q6_k_unpack;

/* ---- quant_ref.c -------------------------------------------------------------- */
void llm_f32_to_float(const void *src, float *dst, int64_t n);
void llm_f16_to_float(const void *src, float *dst, int64_t n);
void llm_bf16_to_float(const void *src, float *dst, int64_t n);
void llm_f32_from_float(const float *src, void *dst, int64_t n);
void llm_f16_from_float(const float *src, void *dst, int64_t n);
void llm_bf16_from_float(const float *src, void *dst, int64_t n);
void llm_q4_0_to_float(const void *src, float *dst, int64_t n);
void llm_q4_1_to_float(const void *src, float *dst, int64_t n);
void llm_q5_0_to_float(const void *src, float *dst, int64_t n);
void llm_q5_1_to_float(const void *src, float *dst, int64_t n);
void llm_q8_0_to_float(const void *src, float *dst, int64_t n);
/* ggml's reference quantizers (what llama-quantize runs without an
** importance matrix). */
void llm_q4_0_from_float(const float *src, void *dst, int64_t n);
void llm_q4_1_from_float(const float *src, void *dst, int64_t n);
void llm_q5_0_from_float(const float *src, void *dst, int64_t n);
void llm_q5_1_from_float(const float *src, void *dst, int64_t n);
void llm_q8_0_from_float(const float *src, void *dst, int64_t n);
/* The activation quantizers of ggml's x86 CPU backend (not its reference). */
void llm_q8_0_vec_from_float(const float *src, void *dst, int64_t n);
void llm_q8_1_vec_from_float(const float *src, void *dst, int64_t n);

/* ---- quant_k.c ---------------------------------------------------------------- */
void llm_q2_k_to_float(const void *src, float *dst, int64_t n);
void llm_q3_k_to_float(const void *src, float *dst, int64_t n);
void llm_q4_k_to_float(const void *src, float *dst, int64_t n);
void llm_q5_k_to_float(const void *src, float *dst, int64_t n);
void llm_q6_k_to_float(const void *src, float *dst, int64_t n);
/* ggml's reference q8_K quantizer, which its CPU backend also runs. */
void llm_q8_k_vec_from_float(const float *src, void *dst, int64_t n);

/* ---- quant_k_encode.c: ggml's reference quantizers of the k-quants ---------- */
void llm_q2_k_from_float(const float *src, void *dst, int64_t n);
void llm_q3_k_from_float(const float *src, void *dst, int64_t n);
void llm_q4_k_from_float(const float *src, void *dst, int64_t n);
void llm_q5_k_from_float(const float *src, void *dst, int64_t n);
void llm_q6_k_from_float(const float *src, void *dst, int64_t n);

/* ---- quant_dot.c: weight row . activation row (of the weight's vec_type) ---- */
float llm_f32_vec_dot(const void *row, const void *act, int64_t n);
float llm_f16_vec_dot(const void *row, const void *act, int64_t n);
float llm_bf16_vec_dot(const void *row, const void *act, int64_t n);
float llm_q4_0_vec_dot(const void *row, const void *act, int64_t n);
float llm_q4_1_vec_dot(const void *row, const void *act, int64_t n);
float llm_q5_0_vec_dot(const void *row, const void *act, int64_t n);
float llm_q5_1_vec_dot(const void *row, const void *act, int64_t n);
float llm_q8_0_vec_dot(const void *row, const void *act, int64_t n);
float llm_q2_k_vec_dot(const void *row, const void *act, int64_t n);
float llm_q3_k_vec_dot(const void *row, const void *act, int64_t n);
float llm_q4_k_vec_dot(const void *row, const void *act, int64_t n);
float llm_q5_k_vec_dot(const void *row, const void *act, int64_t n);
float llm_q6_k_vec_dot(const void *row, const void *act, int64_t n);

#endif
