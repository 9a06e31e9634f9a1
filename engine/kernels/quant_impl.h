/*
** quant_impl.h: the reference kernels behind the type table of qtypes.c,
** shared by the files that define them: quant_ref.c (the plain types and
** the 32-element blocks) and quant_k.c (the k-quants' 256-element blocks).
** The rest of the engine reaches them through llm_qtype_get(type).
**
** Each to_float reproduces ggml's dequantization bit for bit (layouts and
** formulas from ggml-common.h and ggml-quants.c, llama.cpp d32676d). The
** products of a half-precision scale and small integers have at most 24
** significant bits, so they are exact in float and a value is rounded once,
** when a minimum is added; a fused multiply-add cannot change it. The order
** of the factors still shows in the sign of a zero, e.g. (d * scale) * 0
** against d * (scale * 0), so the kernels keep ggml's order.
*/
#ifndef LLM_QUANT_IMPL_H
#define LLM_QUANT_IMPL_H

#include <stdint.h>

#include "kernels/qtypes.h"

/* The half-precision float stored little-endian at p (any alignment). */
static inline float llm_half_at(const uint8_t *p) {
  return llm_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* quant_ref.c */
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
void llm_q8_0_from_float(const float *src, void *dst, int64_t n);

/* quant_k.c */
void llm_q2_k_to_float(const void *src, float *dst, int64_t n);
void llm_q3_k_to_float(const void *src, float *dst, int64_t n);
void llm_q4_k_to_float(const void *src, float *dst, int64_t n);
void llm_q5_k_to_float(const void *src, float *dst, int64_t n);
void llm_q6_k_to_float(const void *src, float *dst, int64_t n);

#endif
