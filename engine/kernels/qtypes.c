/*
** qtypes.c: the table of ggml tensor types (see qtypes.h).
**
** The sizes are the ones ggml's block layouts have (ggml-common.h at
** llama.cpp commit c392e50): QK_K = 256 elements for the k-quants, the
** i-quants but iq4_nl, and the ternary types; 32 for the older quants.
** A block's bytes are its scales (2-byte halves unless noted) and packed
** values, e.g. q4_0 = half d + 16 bytes of nibbles = 18, q4_k = 2 halves
** + 12 bytes of scales + 128 of nibbles = 144. (gguf-py's table gives q8_1
** 40 bytes; ggml's block_q8_1 is 36: two halves and 32 int8.)
*/
#include "kernels/qtypes.h"

#include "base.h"

#define QK_K 256

/* Indexed by id; entries without a name are unknown ids. */
static const llm_qtype QTYPES[LLM_QTYPE_COUNT] = {
    [LLM_QTYPE_F32] = {LLM_QTYPE_F32, "f32", 1, 4, 1},
    [LLM_QTYPE_F16] = {LLM_QTYPE_F16, "f16", 1, 2, 1},
    [LLM_QTYPE_Q4_0] = {LLM_QTYPE_Q4_0, "q4_0", 32, 18, 1},
    [LLM_QTYPE_Q4_1] = {LLM_QTYPE_Q4_1, "q4_1", 32, 20, 1},
    [LLM_QTYPE_Q5_0] = {LLM_QTYPE_Q5_0, "q5_0", 32, 22, 1},
    [LLM_QTYPE_Q5_1] = {LLM_QTYPE_Q5_1, "q5_1", 32, 24, 1},
    [LLM_QTYPE_Q8_0] = {LLM_QTYPE_Q8_0, "q8_0", 32, 34, 1},
    [LLM_QTYPE_Q8_1] = {LLM_QTYPE_Q8_1, "q8_1", 32, 36, 0},
    [LLM_QTYPE_Q2_K] = {LLM_QTYPE_Q2_K, "q2_k", QK_K, 84, 1},
    [LLM_QTYPE_Q3_K] = {LLM_QTYPE_Q3_K, "q3_k", QK_K, 110, 1},
    [LLM_QTYPE_Q4_K] = {LLM_QTYPE_Q4_K, "q4_k", QK_K, 144, 1},
    [LLM_QTYPE_Q5_K] = {LLM_QTYPE_Q5_K, "q5_k", QK_K, 176, 1},
    [LLM_QTYPE_Q6_K] = {LLM_QTYPE_Q6_K, "q6_k", QK_K, 210, 1},
    [LLM_QTYPE_Q8_K] = {LLM_QTYPE_Q8_K, "q8_k", QK_K, 292, 0}, /* f32 d */
    [LLM_QTYPE_IQ2_XXS] = {LLM_QTYPE_IQ2_XXS, "iq2_xxs", QK_K, 66, 0},
    [LLM_QTYPE_IQ2_XS] = {LLM_QTYPE_IQ2_XS, "iq2_xs", QK_K, 74, 0},
    [LLM_QTYPE_IQ3_XXS] = {LLM_QTYPE_IQ3_XXS, "iq3_xxs", QK_K, 98, 0},
    [LLM_QTYPE_IQ1_S] = {LLM_QTYPE_IQ1_S, "iq1_s", QK_K, 50, 0},
    [LLM_QTYPE_IQ4_NL] = {LLM_QTYPE_IQ4_NL, "iq4_nl", 32, 18, 0},
    [LLM_QTYPE_IQ3_S] = {LLM_QTYPE_IQ3_S, "iq3_s", QK_K, 110, 0},
    [LLM_QTYPE_IQ2_S] = {LLM_QTYPE_IQ2_S, "iq2_s", QK_K, 82, 0},
    [LLM_QTYPE_IQ4_XS] = {LLM_QTYPE_IQ4_XS, "iq4_xs", QK_K, 136, 0},
    [LLM_QTYPE_I8] = {LLM_QTYPE_I8, "i8", 1, 1, 0},
    [LLM_QTYPE_I16] = {LLM_QTYPE_I16, "i16", 1, 2, 0},
    [LLM_QTYPE_I32] = {LLM_QTYPE_I32, "i32", 1, 4, 0},
    [LLM_QTYPE_I64] = {LLM_QTYPE_I64, "i64", 1, 8, 0},
    [LLM_QTYPE_F64] = {LLM_QTYPE_F64, "f64", 1, 8, 0},
    [LLM_QTYPE_IQ1_M] = {LLM_QTYPE_IQ1_M, "iq1_m", QK_K, 56, 0},
    [LLM_QTYPE_BF16] = {LLM_QTYPE_BF16, "bf16", 1, 2, 1},
    [LLM_QTYPE_TQ1_0] = {LLM_QTYPE_TQ1_0, "tq1_0", QK_K, 54, 0},
    [LLM_QTYPE_TQ2_0] = {LLM_QTYPE_TQ2_0, "tq2_0", QK_K, 66, 0},
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
