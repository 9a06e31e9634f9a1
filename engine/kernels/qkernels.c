/*
** qkernels.c: choosing among the levels of the quantized kernels (see
** qkernels.h), and the portable four-row dot.
*/
#include "kernels/qkernels.h"

#include "kernels/vec.h"

int llm_qkernel_level(int max_level) {
  int level = llm_simd_best();
  if (level > LLM_SIMD_AVX512) level = LLM_SIMD_AVX512; /* (the quantized kernels' top) */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (level >= LLM_SIMD_AVX512 &&
      !(__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vnni")))
    level = LLM_SIMD_AVX2;
#endif
  return level < max_level ? level : max_level;
}

/* The portable four-row dot: four portable dots (vec_dot's pointer comes
** from the type table, so one function serves every type); the portable
** tile: those, over the tile's rows. */
#define PORTABLE4(name, type)                                                                          \
  static void name(const void *row, const void *act, size_t stride, int64_t n, float out[4]) {       \
    llm_vec_dot_fn dot = llm_qtype_get(type)->vec_dot;                                                 \
    for (int i = 0; i < 4; i++) out[i] = dot(row, (const char *)act + (size_t)i * stride, n);         \
  }                                                                                                    \
  static void name##_tile(const void *w, size_t ws, size_t nw, const void *act, size_t as, size_t na, \
                          int64_t n, float *out, size_t ldo) {                                         \
    llm_tile_by_dot4(llm_qtype_get(type)->vec_dot, name, w, ws, nw, act, as, na, n, out, ldo);         \
  }
PORTABLE4(dot4_f32, LLM_QTYPE_F32)
PORTABLE4(dot4_f16, LLM_QTYPE_F16)
PORTABLE4(dot4_bf16, LLM_QTYPE_BF16)
PORTABLE4(dot4_q4_0, LLM_QTYPE_Q4_0)
PORTABLE4(dot4_q4_1, LLM_QTYPE_Q4_1)
PORTABLE4(dot4_q5_0, LLM_QTYPE_Q5_0)
PORTABLE4(dot4_q5_1, LLM_QTYPE_Q5_1)
PORTABLE4(dot4_q8_0, LLM_QTYPE_Q8_0)
PORTABLE4(dot4_q2_k, LLM_QTYPE_Q2_K)
PORTABLE4(dot4_q3_k, LLM_QTYPE_Q3_K)
PORTABLE4(dot4_q4_k, LLM_QTYPE_Q4_K)
PORTABLE4(dot4_q5_k, LLM_QTYPE_Q5_K)
PORTABLE4(dot4_q6_k, LLM_QTYPE_Q6_K)

#define PORTABLE(type, name) [type] = {NULL, name, name##_tile, NULL, NULL}
static const llm_qkernel PORTABLE[LLM_QTYPE_COUNT] = {
    PORTABLE(LLM_QTYPE_F32, dot4_f32),   PORTABLE(LLM_QTYPE_F16, dot4_f16),
    PORTABLE(LLM_QTYPE_BF16, dot4_bf16), PORTABLE(LLM_QTYPE_Q4_0, dot4_q4_0),
    PORTABLE(LLM_QTYPE_Q4_1, dot4_q4_1), PORTABLE(LLM_QTYPE_Q5_0, dot4_q5_0),
    PORTABLE(LLM_QTYPE_Q5_1, dot4_q5_1), PORTABLE(LLM_QTYPE_Q8_0, dot4_q8_0),
    PORTABLE(LLM_QTYPE_Q2_K, dot4_q2_k), PORTABLE(LLM_QTYPE_Q3_K, dot4_q3_k),
    PORTABLE(LLM_QTYPE_Q4_K, dot4_q4_k), PORTABLE(LLM_QTYPE_Q5_K, dot4_q5_k),
    PORTABLE(LLM_QTYPE_Q6_K, dot4_q6_k),
};

llm_qkernel llm_qkernel_get(uint32_t type, int simd) {
  llm_qkernel k = PORTABLE[type];
  k.vec_dot = llm_qtype_get(type)->vec_dot;
  k.act_from_float = llm_qtype_get(llm_qtype_get(type)->vec_type)->vec_from_float;
  const llm_qkernel *levels[] = {llm_qkernels_avx2, llm_qkernels_avx512};
  for (int l = 0; l < 2 && l + LLM_SIMD_AVX2 <= simd; l++) {
    if (levels[l][type].vec_dot) k.vec_dot = levels[l][type].vec_dot;
    if (levels[l][type].vec_dot4) k.vec_dot4 = levels[l][type].vec_dot4;
    if (levels[l][type].vec_dot_tile) { /* with the activations it reads */
      k.vec_dot_tile = levels[l][type].vec_dot_tile;
      k.act_prepare = levels[l][type].act_prepare;
    }
    if (levels[l][type].act_from_float) k.act_from_float = levels[l][type].act_from_float;
  }
  return k;
}
