/*
** dotgemm.h: a float matrix product whose every element comes out the same
** however it is batched: out = x W^T for activation rows x and weight rows
** W of float32, float16 or bfloat16.
**
** Each element is one dot product: a vector accumulator of the level's
** width (16 lanes AVX-512, 8 AVX2, 8 partial sums portable) fed in order
** over k by fused multiply-adds (portable: multiply, then add), the last
** K % width elements zero-padded, then the same fixed tree of additions
** over the lanes. Tiles only decide which elements are computed together,
** so the result of one element depends on its x row, its W row, K and the
** SIMD level only: not on n, m, where the element sits, nor which slice of
** W rows a thread was given. That is what lets a row computed alone
** (decoding) match the same row computed inside a batch, bit for bit.
** At the level LLM_SIMD_AVX512_BF16, bfloat16 weights go another way, as
** fixed: x rounded to bfloat16, pairs of products added to each lane by
** vdpbf16ps (dotgemm_avx512.c); twice as fast in a prompt, as precise as
** the rounded activations (about 3 significant digits each).
**
**   llm_dotgemm(llm_simd_best(), out, ldo, x, ldx, n, w, LLM_DOTGEMM_F16,
**               K * 2, m, K, 0);
**
** Threads are the caller's: split the W rows [0, m) and call once per
** slice (w advanced by j0 * row_bytes, out by j0). The call may allocate a
** small workspace (llm_malloc); without one it computes the same numbers,
** more slowly.
*/
#ifndef LLM_DOTGEMM_H
#define LLM_DOTGEMM_H

#include <stddef.h>
#include <stdint.h>

/* Weight types the product reads (converted to float32 as loaded). */
enum { LLM_DOTGEMM_F32, LLM_DOTGEMM_F16, LLM_DOTGEMM_BF16 };

/* out[r * ldo + j] = (acc ? out[r * ldo + j] : 0) + sum_k x[r * ldx + k] * W_j[k]
** for r in [0, n), j in [0, m); W_j = the row at (const char *)w + j *
** row_bytes, K elements of type wtype. simd: LLM_SIMD_* of kernels/vec.h
** (a level above what the CPU has must not be passed). out must not
** overlap x or w; nothing needs any alignment, but float32 weights whose
** rows start on 64-byte boundaries are read without being copied. */
void llm_dotgemm(int simd, float *out, size_t ldo, const float *x, size_t ldx,
                 size_t n, const void *w, int wtype, size_t row_bytes,
                 size_t m, size_t K, int acc);

/* ---- Internal: what each level's file gives the driver in dotgemm.c ---- */

/* One tile: rm x rows by rn W rows over k in [k0, k0 + kc) of a product.
** Products longer than one chunk go chunk by chunk, the accumulators kept
** in state (rm * rn * lanes floats, row-major by x row then W row) between
** chunks; the first chunk starts them at zero, the last reduces them and
** writes out. A chunk's kc is a multiple of the lanes except the last's. */
typedef struct llm_dotgemm_tile {
  const float *x; /* at (first row, k0) */
  size_t ldx;
  /* x holds bfloat16, rounded beforehand (level.round_bf16), still ldx
  ** floats' bytes apart: element k of row i at (uint16_t *)(x + i ldx) + k */
  int x_bf16;
  const void *w; /* at (first row, k0) */
  size_t ldw;    /* bytes */
  int wtype;
  size_t kc;
  float *state;   /* NULL when the chunk is the whole product */
  int first, last;
  float *out; /* at (first x row, first W row) */
  size_t ldo;
  int acc;
  /* The next W rows' chunk, at the same k0, ldw apart (weights read where
  ** they lie, not widened copies): asked into cache as a tile of several
  ** rows reads its own (one row streams, see the tiles), or NULL. */
  const char *next_w;
} llm_dotgemm_tile;

typedef struct llm_dotgemm_level {
  size_t lanes;  /* floats in one element's accumulator */
  size_t rm, rn; /* the full tile */
  /* Runs a tile of rm <= level.rm rows by rn W rows, rn == level.rn or 1. */
  void (*tile)(const llm_dotgemm_tile *t, size_t rm, size_t rn);
  /* dst[0, n) = src[0, n) of wtype converted to float (exactly). */
  void (*widen)(float *dst, const void *src, int wtype, size_t n);
  /* Non-NULL at a level whose tiles read bfloat16 weights as they are
  ** (never widened copies), with x rounded to bfloat16 by this (dst[0, n)
  ** = src[0, n) rounded to nearest, ties to even) or as they load. */
  void (*round_bf16)(uint16_t *dst, const float *src, size_t n);
} llm_dotgemm_level;

/* In dotgemm_avx2.c and dotgemm_avx512.c (x86-64 with GCC or clang). */
extern const llm_dotgemm_level llm_dotgemm_avx2, llm_dotgemm_avx512, llm_dotgemm_avx512_bf16;

#endif
