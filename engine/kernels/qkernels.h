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
**     unpacked once for the four;
**   vec_dot_tile: the dots of nw weight rows (w, w + w_stride, ...) with na
**     activation rows (act, act + act_stride, ...), each added to out[r *
**     ldo + j] (row r, weight row j): matrix-matrix products (prompts,
**     batches). A level's tile holds a few weight rows and activation rows
**     in registers at once, unpacking each weight block once for its
**     activation rows and loading each activation block once for its
**     weight rows. Each dot is bit for bit the level's vec_dot of the same
**     two rows: a row's result does not depend on the rows it shares the
**     call with, or on where it sits in the tile (batched generation
**     relies on it). When act_prepare is set, the tile's activation rows
**     are not vec_type rows but those rows prepared by act_prepare;
**   act_prepare: NULL, or converts an activation row of n elements (vec_type,
**     at src) into the layout the level's tile reads, at dst (at most
**     llm_qkernel_prep_bytes(n) bytes): done once per row and product, where
**     the tile would otherwise redo it for every few weight rows;
**   act_from_float: the vec_type's vec_from_float (qtypes.h) at this level,
**     with the same bits.
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

typedef void (*llm_vec_dot_tile_fn)(const void *w, size_t w_stride, size_t nw, const void *act,
                                    size_t act_stride, size_t na, int64_t n, float *out, size_t ldo);

typedef struct llm_qkernel {
  llm_vec_dot_fn vec_dot;
  llm_vec_dot4_fn vec_dot4;
  llm_vec_dot_tile_fn vec_dot_tile;
  void (*act_prepare)(const void *src, void *dst, int64_t n);
  void (*act_from_float)(const float *src, void *dst, int64_t n);
} llm_qkernel;

/* The most bytes act_prepare writes for a row of n elements (any level,
** any type): 2 per element, in steps of 128 elements. */
static inline size_t llm_qkernel_prep_bytes(int64_t n) { return (size_t)(n + 127) / 128 * 256; }

/* vec_dot_tile for the levels without a tiled kernel of their own: every
** weight row against the activation rows four at a time (dot4), then one
** at a time (dot), which the level's vec_dot4 and vec_dot each compute
** the same way (inlined where the two are constants). */
static inline void llm_tile_by_dot4(llm_vec_dot_fn dot, llm_vec_dot4_fn dot4, const void *w,
                                    size_t w_stride, size_t nw, const void *act, size_t act_stride,
                                    size_t na, int64_t n, float *out, size_t ldo) {
  for (size_t j = 0; j < nw; j++) {
    const char *row = (const char *)w + j * w_stride;
    size_t r = 0;
    for (; r + 4 <= na; r += 4) {
      float d[4];
      dot4(row, (const char *)act + r * act_stride, act_stride, n, d);
      for (int i = 0; i < 4; i++) out[(r + (size_t)i) * ldo + j] += d[i];
    }
    for (; r < na; r++) out[r * ldo + j] += dot(row, (const char *)act + r * act_stride, n);
  }
}

/* Defined by kernels/quant_avx2.c and kernels/quant_avx512.c. */
extern const llm_qkernel llm_qkernels_avx2[LLM_QTYPE_COUNT];
extern const llm_qkernel llm_qkernels_avx512[LLM_QTYPE_COUNT];

/* The highest level of these kernels this CPU and build can run, at most
** max_level (so callers and tests can ask for a lower one). */
int llm_qkernel_level(int max_level);

/* The kernels of a supported weight type at level simd (or the best below
** it that has them); every member is set. */
llm_qkernel llm_qkernel_get(uint32_t type, int simd);

#endif
