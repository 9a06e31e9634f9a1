/*
** qtypes.c: the table of ggml tensor types (see qtypes.h), pointing at the
** kernels of quant_ref.c, quant_k.c, quant_k_encode.c and quant_dot.c, and
** the reference dot product (the SIMD levels: qkernels.h).
**
** The sizes are the ones ggml's block layouts have (ggml-common.h at
** llama.cpp commit d32676d): QK_K = 256 elements for the k-quants, the
** i-quants but iq4_nl, and the ternary types; 32 for the older quants.
** A block's bytes are its scales (2-byte halves unless noted) and packed
** values, e.g. q4_0 = half d + 16 bytes of nibbles = 18, q4_k = 2 halves
** + 12 bytes of scales + 128 of nibbles = 144. (gguf-py's table gives q8_1
** 40 bytes; ggml's block_q8_1 is 36: two halves and 32 int8.)
*/
#include "kernels/qtypes.h"

#include "base.h"
#include "kernels/quant_impl.h"

/* The table, defined below; the dot products read their type's entry. */
static const llm_qtype QTYPES[LLM_QTYPE_COUNT];

/* Elements dequantized at a time by dot: a multiple of every block. */
#define DOT_CHUNK 256

/* The reference dot product: dequantize DOT_CHUNK elements (a whole number
** of blocks) into a buffer on the stack, sum their products with x in
** float, and the chunks' sums in double. */
static float dot_by_chunks(const llm_qtype *q, const void *row, const float *x, int64_t n) {
  const uint8_t *p = row;
  float buf[DOT_CHUNK];
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += DOT_CHUNK) {
    int64_t take = n - i < DOT_CHUNK ? n - i : DOT_CHUNK;
    q->to_float(p, buf, take);
    p += take / q->block * q->block_bytes;
    float part = 0.0f;
    for (int64_t j = 0; j < take; j++) part += buf[j] * x[i + j];
    sum += part;
  }
  return (float)sum;
}

#define DOT(name, id) \
  static float dot_##name(const void *row, const float *x, int64_t n) { \
    return dot_by_chunks(&QTYPES[id], row, x, n); \
  }
DOT(f32, LLM_QTYPE_F32)
DOT(f16, LLM_QTYPE_F16)
DOT(bf16, LLM_QTYPE_BF16)
DOT(q4_0, LLM_QTYPE_Q4_0)
DOT(q4_1, LLM_QTYPE_Q4_1)
DOT(q5_0, LLM_QTYPE_Q5_0)
DOT(q5_1, LLM_QTYPE_Q5_1)
DOT(q8_0, LLM_QTYPE_Q8_0)
DOT(q2_k, LLM_QTYPE_Q2_K)
DOT(q3_k, LLM_QTYPE_Q3_K)
DOT(q4_k, LLM_QTYPE_Q4_K)
DOT(q5_k, LLM_QTYPE_Q5_K)
DOT(q6_k, LLM_QTYPE_Q6_K)

/* A supported type: its kernels are llm_NAME_to_float, dot_NAME,
** from_float (NULL unless it quantizes), llm_NAME_vec_dot with activations
** of vec_type, and vec_from_float (NULL unless it is an activation type). */
#define SUPPORTED(id, name, block, bytes, from_float, vec_type, vec_from_float)             \
  [id] = {id, #name, block, bytes, 1, llm_##name##_to_float, dot_##name, from_float, vec_type, \
          llm_##name##_vec_dot, vec_from_float}
/* A type known by id, name and size only. */
#define KNOWN(id, name, block, bytes) \
  [id] = {id, #name, block, bytes, 0, NULL, NULL, NULL, 0, NULL, NULL}
/* A type only activations are converted to (weights of it are not
** supported): known, with a vec_from_float. */
#define ACTIVATION(id, name, block, bytes) \
  [id] = {id, #name, block, bytes, 0, NULL, NULL, NULL, 0, NULL, llm_##name##_vec_from_float}

/* Indexed by id; entries without a name are unknown ids. */
static const llm_qtype QTYPES[LLM_QTYPE_COUNT] = {
    SUPPORTED(LLM_QTYPE_F32, f32, 1, 4, llm_f32_from_float, LLM_QTYPE_F32, llm_f32_from_float),
    SUPPORTED(LLM_QTYPE_F16, f16, 1, 2, llm_f16_from_float, LLM_QTYPE_F16, llm_f16_from_float),
    SUPPORTED(LLM_QTYPE_Q4_0, q4_0, 32, 18, llm_q4_0_from_float, LLM_QTYPE_Q8_0, NULL),
    SUPPORTED(LLM_QTYPE_Q4_1, q4_1, 32, 20, llm_q4_1_from_float, LLM_QTYPE_Q8_1, NULL),
    SUPPORTED(LLM_QTYPE_Q5_0, q5_0, 32, 22, llm_q5_0_from_float, LLM_QTYPE_Q8_0, NULL),
    SUPPORTED(LLM_QTYPE_Q5_1, q5_1, 32, 24, llm_q5_1_from_float, LLM_QTYPE_Q8_1, NULL),
    SUPPORTED(LLM_QTYPE_Q8_0, q8_0, 32, 34, llm_q8_0_from_float, LLM_QTYPE_Q8_0,
              llm_q8_0_vec_from_float),
    ACTIVATION(LLM_QTYPE_Q8_1, q8_1, 32, 36),
    SUPPORTED(LLM_QTYPE_Q2_K, q2_k, LLM_QK_K, 84, llm_q2_k_from_float, LLM_QTYPE_Q8_K, NULL),
    SUPPORTED(LLM_QTYPE_Q3_K, q3_k, LLM_QK_K, 110, llm_q3_k_from_float, LLM_QTYPE_Q8_K, NULL),
    SUPPORTED(LLM_QTYPE_Q4_K, q4_k, LLM_QK_K, 144, llm_q4_k_from_float, LLM_QTYPE_Q8_K, NULL),
    SUPPORTED(LLM_QTYPE_Q5_K, q5_k, LLM_QK_K, 176, llm_q5_k_from_float, LLM_QTYPE_Q8_K, NULL),
    SUPPORTED(LLM_QTYPE_Q6_K, q6_k, LLM_QK_K, 210, llm_q6_k_from_float, LLM_QTYPE_Q8_K, NULL),
    ACTIVATION(LLM_QTYPE_Q8_K, q8_k, LLM_QK_K, 292), /* f32 d */
    KNOWN(LLM_QTYPE_IQ2_XXS, iq2_xxs, LLM_QK_K, 66),
    KNOWN(LLM_QTYPE_IQ2_XS, iq2_xs, LLM_QK_K, 74),
    KNOWN(LLM_QTYPE_IQ3_XXS, iq3_xxs, LLM_QK_K, 98),
    KNOWN(LLM_QTYPE_IQ1_S, iq1_s, LLM_QK_K, 50),
    KNOWN(LLM_QTYPE_IQ4_NL, iq4_nl, 32, 18),
    KNOWN(LLM_QTYPE_IQ3_S, iq3_s, LLM_QK_K, 110),
    KNOWN(LLM_QTYPE_IQ2_S, iq2_s, LLM_QK_K, 82),
    KNOWN(LLM_QTYPE_IQ4_XS, iq4_xs, LLM_QK_K, 136),
    KNOWN(LLM_QTYPE_I8, i8, 1, 1),
    KNOWN(LLM_QTYPE_I16, i16, 1, 2),
    KNOWN(LLM_QTYPE_I32, i32, 1, 4),
    KNOWN(LLM_QTYPE_I64, i64, 1, 8),
    KNOWN(LLM_QTYPE_F64, f64, 1, 8),
    KNOWN(LLM_QTYPE_IQ1_M, iq1_m, LLM_QK_K, 56),
    SUPPORTED(LLM_QTYPE_BF16, bf16, 1, 2, llm_bf16_from_float, LLM_QTYPE_BF16, llm_bf16_from_float),
    KNOWN(LLM_QTYPE_TQ1_0, tq1_0, LLM_QK_K, 54),
    KNOWN(LLM_QTYPE_TQ2_0, tq2_0, LLM_QK_K, 66),
};

const llm_qtype *llm_qtype_get(uint32_t type) {
  if (type >= LLM_QTYPE_COUNT || !QTYPES[type].name) return NULL;
  return &QTYPES[type];
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static int same_name(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (lower((unsigned char)*a) != lower((unsigned char)*b)) return 0;
  return *a == *b;
}

const llm_qtype *llm_qtype_by_name(const char *name) {
  if (!name) return NULL;
  for (uint32_t i = 0; i < LLM_QTYPE_COUNT; i++)
    if (QTYPES[i].name && same_name(QTYPES[i].name, name)) return &QTYPES[i];
  return NULL;
}

int llm_qtype_row_bytes(uint32_t type, uint64_t n_elems, uint64_t *bytes) {
  const llm_qtype *q = llm_qtype_get(type);
  if (!q || n_elems % q->block) return LLM_EINVAL;
  uint64_t blocks = n_elems / q->block;
  if (blocks > UINT64_MAX / q->block_bytes) return LLM_ERANGE;
  *bytes = blocks * q->block_bytes;
  return LLM_OK;
}
