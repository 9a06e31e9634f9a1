/*
** qtypes.h: the tensor element types of ggml (llama.cpp's tensor library),
** as GGUF files number them: one table entry per type id, with its name,
** its block (how many elements are stored together, and in how many
** bytes), whether this engine can run it, and its kernels.
**
** A row of n elements of a block type takes n / block * block_bytes bytes;
** n must be a multiple of the block. "Known but not supported" types (the
** i-quants, q8_1, q8_k, the integer types, ...) can be listed and sized but
** weights of theirs not computed with: their kernels are NULL, but for
** vec_from_float in q8_1 and q8_k (below). Every supported type has
** to_float, dot and from_float (quantizing): bit for bit ggml's reference
** quantizer, so the same bytes as llama-quantize without an importance
** matrix (for f16 and bf16, ggml's row conversions), but in some blocks
** holding a NaN (tests/data/quantize/SOURCE.md; q8_0: quant_ref.c).
**
**   const llm_qtype *q = llm_qtype_get(tensor_type);
**   q->to_float(row, out, n);        // n floats, bit for bit as ggml's
**   float s = q->dot(row, x, n);     // sum of row[i] * x[i]
**
** Matrix products as llama.cpp computes them: ggml's CPU backend first
** converts each activation row to the weight type's vec_type (q8_0 for
** q4_0, q5_0, q8_0; q8_1 for q4_1, q5_1; q8_k for the k-quants; f16, bf16
** and f32 for themselves), then takes integer (or half) dot products. Every
** supported type has vec_type and vec_dot, and the entry of its vec_type
** has vec_from_float; those six entries (f32, f16, bf16, q8_0, q8_1, q8_k)
** are the activation types, and q8_1 and q8_k are nothing else (not
** supported: no weights of theirs can be computed with).
**
**   const llm_qtype *a = llm_qtype_get(q->vec_type);
**   uint64_t bytes;                  // llm_qtype_row_bytes(a->id, n, &bytes)
**   a->vec_from_float(x, act, n);    // act: bytes bytes, any alignment
**   float s = q->vec_dot(row, act, n);
**
** Rows are read byte by byte: they need no alignment (a GGUF row is only
** 32-byte aligned and a q4_0 block is 18 bytes). The kernels here are the
** portable reference; to_float's results equal ggml's dequantization
** exactly, dot's are within float rounding of the exact sum.
*/
#ifndef LLM_QTYPES_H
#define LLM_QTYPES_H

#include <stddef.h>
#include <stdint.h>

/* ggml's type ids, as stored in GGUF tensor infos. Ids 4, 5, 31..33 and
** 36..38 were used by types ggml has removed: they are unknown here. */
enum {
  LLM_QTYPE_F32 = 0,
  LLM_QTYPE_F16 = 1,
  LLM_QTYPE_Q4_0 = 2,
  LLM_QTYPE_Q4_1 = 3,
  LLM_QTYPE_Q5_0 = 6,
  LLM_QTYPE_Q5_1 = 7,
  LLM_QTYPE_Q8_0 = 8,
  LLM_QTYPE_Q8_1 = 9,
  LLM_QTYPE_Q2_K = 10,
  LLM_QTYPE_Q3_K = 11,
  LLM_QTYPE_Q4_K = 12,
  LLM_QTYPE_Q5_K = 13,
  LLM_QTYPE_Q6_K = 14,
  LLM_QTYPE_Q8_K = 15,
  LLM_QTYPE_IQ2_XXS = 16,
  LLM_QTYPE_IQ2_XS = 17,
  LLM_QTYPE_IQ3_XXS = 18,
  LLM_QTYPE_IQ1_S = 19,
  LLM_QTYPE_IQ4_NL = 20,
  LLM_QTYPE_IQ3_S = 21,
  LLM_QTYPE_IQ2_S = 22,
  LLM_QTYPE_IQ4_XS = 23,
  LLM_QTYPE_I8 = 24,
  LLM_QTYPE_I16 = 25,
  LLM_QTYPE_I32 = 26,
  LLM_QTYPE_I64 = 27,
  LLM_QTYPE_F64 = 28,
  LLM_QTYPE_IQ1_M = 29,
  LLM_QTYPE_BF16 = 30,
  LLM_QTYPE_TQ1_0 = 34,
  LLM_QTYPE_TQ2_0 = 35,
  LLM_QTYPE_COUNT = 39 /* one past the largest id, known or not */
};

typedef struct llm_qtype {
  uint32_t id;          /* the GGUF type id (LLM_QTYPE_*) */
  const char *name;     /* lower case, as users write it: "q4_k", "bf16" */
  uint32_t block;       /* elements per block (1 for the plain types) */
  uint32_t block_bytes; /* bytes per block */
  int supported;        /* 1: this engine computes with it; 0: known only */
  /* The kernels, NULL when the type has none; n is a multiple of block.
  ** to_float: dst[0, n) = the n elements encoded at src.
  ** dot: the sum over i < n of element i of row times x[i].
  ** from_float: encodes src[0, n) at dst (n / block * block_bytes bytes),
  ** as ggml's reference quantizer does, bit for bit. */
  void (*to_float)(const void *src, float *dst, int64_t n);
  float (*dot)(const void *row, const float *x, int64_t n);
  void (*from_float)(const float *src, void *dst, int64_t n);
  /* Products with converted activations (see the top of the file).
  ** vec_type: of a supported type, the type its activations are converted
  ** to (LLM_QTYPE_*); 0 in the other entries.
  ** vec_dot: the dot of a row of this type with an activation row of
  ** vec_type, both of n elements, computed as ggml's portable kernels do
  ** (integer sums per block; within float rounding of the exact sum).
  ** vec_from_float: of an activation type, converts src[0, n) into dst
  ** (n / block * block_bytes bytes) as ggml's CPU backend does on x86
  ** (AVX2 or later), bit for bit but for NaN payloads in halves (x86's
  ** conversion keeps their top bits; ggml's reference and this drop them);
  ** for q8_0 this differs from from_float, which is ggml's reference
  ** quantizer (used for weights): it rounds ties to even where roundf goes
  ** away from zero. */
  uint32_t vec_type;
  float (*vec_dot)(const void *row, const void *act, int64_t n);
  void (*vec_from_float)(const float *src, void *dst, int64_t n);
} llm_qtype;

/* The entry for a type id, or NULL when the id is unknown. */
const llm_qtype *llm_qtype_get(uint32_t type);

/* The entry whose name is name (any case: "Q4_K" finds "q4_k"), or NULL. */
const llm_qtype *llm_qtype_by_name(const char *name);

/* *bytes = the size of n_elems elements of type. Returns LLM_OK, or
** LLM_EINVAL when the type is unknown or n_elems is not a whole number of
** blocks, LLM_ERANGE when the size overflows 64 bits (*bytes untouched). */
int llm_qtype_row_bytes(uint32_t type, uint64_t n_elems, uint64_t *bytes);

/* Conversions of one value between float and the 16-bit floats, equal to
** ggml's bit for bit. To f16 and bf16: rounding to nearest, ties to even,
** subnormals kept, too large to inf; a NaN stays a NaN of the same sign
** (f16: the quiet NaN 0x7e00, payload dropped; bf16: the top of the
** payload, made quiet). From f16, a NaN comes back quiet with its payload. */
float llm_f16_to_f32(uint16_t h);
uint16_t llm_f32_to_f16(float f);
float llm_bf16_to_f32(uint16_t h);
uint16_t llm_f32_to_bf16(float f);

#endif
