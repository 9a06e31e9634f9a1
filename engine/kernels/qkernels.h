/*
** qkernels.h: the SIMD versions of the quantized dot products of
** kernels/qtypes.h, one table per instruction-set level, and the choice
** among them.
**
** A level's table (LLM_QTYPE_COUNT entries, indexed by weight type) holds
** for each weight type it speeds up:
**   vec_dot: the dot of a weight row with an activation row of the type's
**     vec_type (the same contract as llm_qtype.vec_dot);
**   vec_dot4: the dots of one weight row with four activation rows
**     (act, act + act_stride, ...), out[0..3]: the weight row's blocks are
**     unpacked once for the four (matrix-matrix products: prompts, batches).
** NULL entries fall back to the level below; the portable kernels (level
** LLM_SIMD_SCALAR) exist for every supported type. Results of every level
** are within float rounding of the portable ones (the summation order
** differs), which the tests check on every level the machine has.
**
** Levels (kernels/vec.h's LLM_SIMD_*): AVX2 needs avx2 and fma (every such
** CPU has the f16c the kernels use too: clang cannot test for it); the
** AVX-512 kernels use avx512f, bw, vl and vnni (llm_qkernel_level tells
** which one this CPU may use: an AVX-512 CPU without VNNI runs AVX2's).
*/
#ifndef LLM_QKERNELS_H
#define LLM_QKERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/qtypes.h"

typedef float (*llm_vec_dot_fn)(const void *row, const void *act, int64_t n);
typedef void (*llm_vec_dot4_fn)(const void *row, const void *act, size_t act_stride, int64_t n, float out[4]);

typedef struct llm_qkernel {
  llm_vec_dot_fn vec_dot;
  llm_vec_dot4_fn vec_dot4;
} llm_qkernel;

/* Defined by kernels/quant_avx2.c and kernels/quant_avx512.c. */
extern const llm_qkernel llm_qkernels_avx2[LLM_QTYPE_COUNT];
extern const llm_qkernel llm_qkernels_avx512[LLM_QTYPE_COUNT];

/* The highest level of these kernels this CPU and build can run, at most
** max_level (so callers and tests can ask for a lower one). */
int llm_qkernel_level(int max_level);

/* The kernels of a supported weight type at level simd (or the best below
** it that has them); both members are set. */
llm_qkernel llm_qkernel_get(uint32_t type, int simd);

#endif
