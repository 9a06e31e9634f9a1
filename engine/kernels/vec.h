/*
** vec.h: the row-wise kernels the layers' non-matrix work is made of.
**
** Each kernel has a portable C version and an AVX2+FMA one, and those that
** spend their time in exp (GELU, softmax) an AVX-512 one too; the caller
** passes the level to use (llm_simd_best, or a lower one to force a path,
** which the tests do to cover them all). The build targets plain x86-64,
** so the SIMD code is compiled with function-level target attributes and
** chosen at run time. The paths round differently (lane-wise sums, a
** polynomial exp) but each is deterministic.
**
** n is a row length; rows need no alignment and n need not be a multiple
** of the vector width.
*/
#ifndef LLM_VEC_H
#define LLM_VEC_H

#include <stddef.h>
#include <stdint.h>

/* Asks for the cache lines of x[0, n) ahead of use: for loops that walk a
** slice of every row of a big matrix, which the hardware's prefetchers do
** not follow from one row to the next. */
static inline void llm_prefetch(const float *x, size_t n) {
#if defined(__GNUC__) || defined(__clang__)
  for (size_t i = 0; i < n; i += 16) __builtin_prefetch(x + i);
#else
  (void)x, (void)n;
#endif
}

/* Levels, each including the ones below. AVX512_BF16 differs from AVX512
** only in the products of bfloat16 weights (kernels/dotgemm.h), which it
** computes with the activations rounded to bfloat16. */
enum { LLM_SIMD_SCALAR = 0, LLM_SIMD_AVX2 = 1, LLM_SIMD_AVX512 = 2, LLM_SIMD_AVX512_BF16 = 3 };

/* The best level this build and CPU support, or a lower one the
** environment variable LLM_SIMD names (llm_simd_by_name; a name above the
** CPU's level, or none, leaves the CPU's): to run and measure the paths
** of other machines on this one. */
int llm_simd_best(void);
/* A level's name: "sse2", "avx2+fma", "avx512" or "avx512+bf16". */
const char *llm_simd_name(int level);
/* The level of that name, or -1. */
int llm_simd_by_name(const char *name);

float llm_vmax(int simd, const float *x, size_t n);
float llm_vsum(int simd, const float *x, size_t n);
/* y += x */
void llm_vadd(int simd, float *y, const float *x, size_t n);
/* out = a + b */
void llm_vadd3(int simd, float *out, const float *a, const float *b, size_t n);
/* Returns the sum of exp(x - shift); stores the terms in out unless it is
** NULL (out may be x). */
float llm_vexp_sum(int simd, float *out, const float *x, size_t n,
                   float shift);
/* out = exp(x - shift) * scale; out may be x. */
void llm_vexp_scale(int simd, float *out, const float *x, size_t n,
                    float shift, float scale);
/* x *= a */
void llm_vscale(int simd, float *x, size_t n, float a);

/* LayerNorm pieces; norm = (x - mean) * rstd, dnorm = dout * w. */
/* sum of (x - mean)^2 */
float llm_vsqdev(int simd, const float *x, size_t n, float mean);
/* out = norm * w + b */
void llm_vnorm_affine(int simd, float *out, const float *x, size_t n,
                      float mean, float rstd, const float *w, const float *b);
/* *s1 = sum dnorm, *s2 = sum dnorm * norm */
void llm_vln_sums(int simd, const float *dout, const float *x, const float *w,
                  size_t n, float mean, float rstd, float *s1, float *s2);
/* dinp += rstd * (dnorm - a - norm * b) */
void llm_vln_dinp(int simd, float *dinp, const float *dout, const float *x,
                  const float *w, size_t n, float mean, float rstd, float a,
                  float b);
/* dw += dout * norm; db += dout (one row's share of the parameter grads) */
void llm_vln_dparams(int simd, float *dw, float *db, const float *dout,
                     const float *x, size_t n, float mean, float rstd);

/* GELU, tanh approximation: out = x/2 (1 + tanh(k (x + 0.044715 x^3))),
** k = sqrt(2/pi). */
void llm_vgelu(int simd, float *out, const float *x, size_t n);
/* SwiGLU's product: out = silu(g) u = g / (1 + exp(-g)) u; out may be g
** or u. */
void llm_vswiglu(int simd, float *out, const float *g, const float *u, size_t n);
/* Its gradients from d = dout: du = d silu(g), dg = d u silu'(g). Each
** output element depends on the same element of the inputs only, so an
** output may be one of them. */
void llm_vswiglu_backward(int simd, float *dg, float *du, const float *g, const float *u, const float *d,
                          size_t n);
/* dinp = dout * gelu'(x); dinp may be dout. */
void llm_vgelu_backward(int simd, float *dinp, const float *x,
                        const float *dout, size_t n);

/* Softmax backward of one row p = softmax(s): ds = scale * p * (dp - <p,
** dp>); ds may be dp. */
void llm_vsoftmax_backward(int simd, float *ds, const float *p,
                           const float *dp, size_t n, float scale);

/* Training attention's block products (vec_att.c), over R <= LLM_ATT_ROWS
** rows of hs-wide vectors. The vector operand comes packed in panels of
** 16-wide tiles (zero-padded):
**   pack_rows: the n rows src[i][0..hs) (stride ld), tile t holding
**     columns [16t, 16t + 16) of every row: roundup16(hs) * n floats;
**   pack_keys: the same rows transposed, tile t holding rows [16t, 16t +
**     16) of every column: roundup16(n) * hs floats.
** scores: out[r][j] = alpha <x[r], k_j> for j < n, x rows of stride ldx,
**   kp from pack_keys. The SIMD path writes j up to n rounded up to 16, so
**   out rows (stride ldo) need room for that.
** rows: out[r] = (acc ? out[r] : 0) + sum_{j < n} a[r][j] z_j
** cols: out[r] = (acc ? out[r] : 0) + sum_{i0 <= i < n} a[i][r] z_i
**   with z from zp, a pack_rows panel of np rows; a's stride lda, out's
**   ldo. */
#define LLM_ATT_ROWS 6
void llm_vatt_pack_rows(float *dst, const float *src, size_t ld, size_t n,
                        size_t hs);
void llm_vatt_pack_keys(float *dst, const float *src, size_t ld, size_t n,
                        size_t hs);
void llm_vatt_scores(int simd, float *out, size_t ldo, const float *x,
                     size_t ldx, const float *kp, size_t R, size_t n,
                     size_t hs, float alpha);
void llm_vatt_rows(int simd, float *out, size_t ldo, const float *a,
                   size_t lda, const float *zp, size_t np, size_t R, size_t n,
                   size_t hs, int acc);
void llm_vatt_cols(int simd, float *out, size_t ldo, const float *a,
                   size_t lda, const float *zp, size_t np, size_t R,
                   size_t i0, size_t n, size_t hs, int acc);

/* Inference. */
float llm_vdot(int simd, const float *a, const float *b, size_t n);
/* y += a x */
void llm_vaxpy(int simd, float *y, float a, const float *x, size_t n);
/* out[o] += <w[o, 0..n), x> for o in [0, rows): w is row-major [rows, n]. */
void llm_vmatvec(int simd, float *out, const float *w, const float *x,
                 size_t rows, size_t n);

/* One query of attention over n keys and values (rows of stride ld, hs
** wide): y[hs] = softmax(scale q.k_t) weighted sum of v_t; sc[n] is
** scratch (left holding the unnormalised weights). */
void llm_vattend(int simd, float *y, float *sc, const float *q, const float *k,
                 const float *v, size_t ld, size_t n, size_t hs, float scale);
/* The same over keys and values stored as halves (IEEE binary16, a KV
** cache in f16), widened exactly as they are read: the AVX2 path uses the
** CPU's f16c (every AVX2 CPU has it: see qkernels.h). */
void llm_vattend_f16(int simd, float *y, float *sc, const float *q,
                     const uint16_t *k, const uint16_t *v, size_t ld,
                     size_t n, size_t hs, float scale);
/* dst[i] = src[i] for halves src, widened exactly (every level gives the
** same bits). */
void llm_vfrom_f16(int simd, float *dst, const uint16_t *src, size_t n);

#endif
