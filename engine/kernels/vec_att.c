/*
** vec_att.c: the block kernels of training attention (see vec.h), portable
** and AVX2+FMA.
**
** attention.c works through a (batch, head) pair in blocks of up to
** LLM_ATT_ROWS query (or key) rows and needs three small products per
** block, all over head-size-wide rows:
**   scores: out[r][j] = alpha <x_r, k_j>          (Q K^T, dY V^T);
**   rows:   out[r] = sum_j a[r][j] z_j            (P V, dS K);
**   cols:   out[r] = sum_i a[i][r] z_i            (P^T dY, dS^T Q).
** Doing them here instead of in sgemm skips its per-call packing and its
** beta = 0 clearing, which at these sizes (a 64-wide head, a few hundred
** keys) cost about as much as the arithmetic, and lets the causal mask cut
** the work at the block instead of at a large tile.
**
** The vector operand (k, or z) is read from a panel packed once per pair:
** tiles 16 floats wide, each tile's rows contiguous, zero-padded, so the
** kernels stream it in order and need no tail cases. The AVX2 versions keep
** R x 16 outputs in registers (R <= 6: 12 accumulators).
*/
#include "kernels/vec.h"

#include <string.h>

#define TILE 16
static size_t tiles(size_t n) { return (n + TILE - 1) / TILE; }

/* The rows come from big activations, usually not in cache and far apart
** (a row of qkv is 3C floats): fetch a few rows ahead. */
#define AHEAD 8

void llm_vatt_pack_rows(float *dst, const float *src, size_t ld, size_t n,
                        size_t hs) {
  size_t nt = tiles(hs), full = hs / TILE;
  for (size_t i = 0; i < n; i++) {
    const float *s = src + i * ld;
    if (i + AHEAD < n) llm_prefetch(s + AHEAD * ld, hs);
    for (size_t t = 0; t < full; t++) memcpy(dst + (t * n + i) * TILE, s + t * TILE, TILE * sizeof *s);
    if (full < nt) {
      float *d = dst + (full * n + i) * TILE;
      size_t w = hs - full * TILE;
      memcpy(d, s + full * TILE, w * sizeof *d);
      memset(d + w, 0, (TILE - w) * sizeof *d);
    }
  }
}

void llm_vatt_pack_keys(float *dst, const float *src, size_t ld, size_t n,
                        size_t hs) {
  for (size_t t = 0; t < tiles(n); t++) {
    float *d = dst + t * hs * TILE;
    size_t j0 = t * TILE, w = n - j0 < TILE ? n - j0 : TILE;
    if (w < TILE) memset(d, 0, hs * TILE * sizeof *d);
    for (size_t c = 0; c < w; c++) {
      const float *k = src + (j0 + c) * ld;
      if (j0 + c + AHEAD < n) llm_prefetch(k + AHEAD * ld, hs);
      for (size_t e = 0; e < hs; e++) d[e * TILE + c] = k[e];
    }
  }
}

/* ---------------------------------------------------------------------- */
/* Portable versions                                                       */

static void scores_c(float *out, size_t ldo, const float *x, size_t ldx,
                     const float *kp, size_t R, size_t n, size_t hs,
                     float alpha) {
  for (size_t r = 0; r < R; r++)
    for (size_t j = 0; j < n; j++) {
      const float *k = kp + (j / TILE) * hs * TILE + j % TILE;
      float s = 0;
      for (size_t e = 0; e < hs; e++) s += x[r * ldx + e] * k[e * TILE];
      out[r * ldo + j] = alpha * s;
    }
}

/* out[r][c] (+)= sum over i in [i0, n) of a(r, i) zp-row i, with a(r, i) =
** a[r * bstep + i * istep]: rows (bstep lda, istep 1) and cols (1, lda). */
static void accum_c(float *out, size_t ldo, const float *a, size_t bstep,
                    size_t istep, const float *zp, size_t np, size_t R,
                    size_t i0, size_t n, size_t hs, int acc) {
  for (size_t r = 0; r < R; r++)
    for (size_t c = 0; c < hs; c++) {
      const float *z = zp + (c / TILE) * np * TILE + c % TILE;
      float s = 0;
      for (size_t i = i0; i < n; i++) s += a[r * bstep + i * istep] * z[i * TILE];
      out[r * ldo + c] = acc ? out[r * ldo + c] + s : s;
    }
}

/* ---------------------------------------------------------------------- */
/* AVX2 + FMA                                                              */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2 1
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))
/* Inlined with R constant and the loops over it unrolled, so the tile
** arrays become registers. */
#define BLOCK AVX2 static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 6")

/* t[r] += b_r z for r < R, b_r = bp[r * bstep], z the 16 floats at zp. */
BLOCK void tile_fma(__m256 t[6][2], int R, const float *bp, size_t bstep,
                    const float *zp) {
  __m256 z0 = _mm256_loadu_ps(zp), z1 = _mm256_loadu_ps(zp + 8);
  UNROLL for (int r = 0; r < R; r++) {
    __m256 b = _mm256_broadcast_ss(bp + r * bstep);
    t[r][0] = _mm256_fmadd_ps(b, z0, t[r][0]);
    t[r][1] = _mm256_fmadd_ps(b, z1, t[r][1]);
  }
}

BLOCK void tile_zero(__m256 t[6][2], int R) {
  UNROLL for (int r = 0; r < R; r++) t[r][0] = t[r][1] = _mm256_setzero_ps();
}

BLOCK void scores_r(int R, float *out, size_t ldo, const float *x, size_t ldx,
                    const float *kp, size_t n, size_t hs, float alpha) {
  __m256 t[6][2], a = _mm256_set1_ps(alpha);
  for (size_t j = 0; j < n; j += TILE, kp += hs * TILE) {
    tile_zero(t, R);
    for (size_t e = 0; e < hs; e++) tile_fma(t, R, x + e, ldx, kp + e * TILE);
    UNROLL for (int r = 0; r < R; r++) {
      _mm256_storeu_ps(out + r * ldo + j, _mm256_mul_ps(t[r][0], a));
      _mm256_storeu_ps(out + r * ldo + j + 8, _mm256_mul_ps(t[r][1], a));
    }
  }
}

BLOCK void accum_r(int R, float *out, size_t ldo, const float *a,
                   size_t bstep, size_t istep, const float *zp, size_t np,
                   size_t i0, size_t n, size_t hs, int acc) {
  __m256 t[6][2];
  for (size_t c = 0; c < hs; c += TILE, zp += np * TILE) {
    tile_zero(t, R);
    for (size_t i = i0; i < n; i++) tile_fma(t, R, a + i * istep, bstep, zp + i * TILE);
    size_t w = hs - c < TILE ? hs - c : TILE;
    UNROLL for (int r = 0; r < R; r++) {
      float *o = out + r * ldo + c, v[TILE];
      if (w == TILE && !acc) {
        _mm256_storeu_ps(o, t[r][0]);
        _mm256_storeu_ps(o + 8, t[r][1]);
        continue;
      }
      _mm256_storeu_ps(v, t[r][0]);
      _mm256_storeu_ps(v + 8, t[r][1]);
      for (size_t k = 0; k < w; k++) o[k] = acc ? o[k] + v[k] : v[k];
    }
  }
}

/* One copy per row count, so each inlined body has R constant. */
#define BY_ROWS(R, call)     \
  switch (R) {               \
    case 1: call(1); break;  \
    case 2: call(2); break;  \
    case 3: call(3); break;  \
    case 4: call(4); break;  \
    case 5: call(5); break;  \
    default: call(6); break; \
  }

AVX2 static void scores_avx2(float *out, size_t ldo, const float *x,
                             size_t ldx, const float *kp, size_t R, size_t n,
                             size_t hs, float alpha) {
#define SCORES(r) scores_r(r, out, ldo, x, ldx, kp, n, hs, alpha)
  BY_ROWS(R, SCORES)
#undef SCORES
}

AVX2 static void accum_avx2(float *out, size_t ldo, const float *a,
                            size_t bstep, size_t istep, const float *zp,
                            size_t np, size_t R, size_t i0, size_t n,
                            size_t hs, int acc) {
#define ACCUM(r) accum_r(r, out, ldo, a, bstep, istep, zp, np, i0, n, hs, acc)
  BY_ROWS(R, ACCUM)
#undef ACCUM
}
#define USE_AVX2(simd, R) ((simd) >= LLM_SIMD_AVX2 && (R) <= LLM_ATT_ROWS)
#endif

/* ---------------------------------------------------------------------- */
/* Dispatch                                                                */

void llm_vatt_scores(int simd, float *out, size_t ldo, const float *x,
                     size_t ldx, const float *kp, size_t R, size_t n,
                     size_t hs, float alpha) {
#ifdef HAVE_AVX2
  if (USE_AVX2(simd, R)) {
    scores_avx2(out, ldo, x, ldx, kp, R, n, hs, alpha);
    return;
  }
#endif
  scores_c(out, ldo, x, ldx, kp, R, n, hs, alpha);
}

/* rows and cols are one accumulation with a's strides swapped. */
static void accum(int simd, float *out, size_t ldo, const float *a,
                  size_t bstep, size_t istep, const float *zp, size_t np,
                  size_t R, size_t i0, size_t n, size_t hs, int acc) {
#ifdef HAVE_AVX2
  if (USE_AVX2(simd, R)) {
    accum_avx2(out, ldo, a, bstep, istep, zp, np, R, i0, n, hs, acc);
    return;
  }
#endif
  accum_c(out, ldo, a, bstep, istep, zp, np, R, i0, n, hs, acc);
}

void llm_vatt_rows(int simd, float *out, size_t ldo, const float *a,
                   size_t lda, const float *zp, size_t np, size_t R, size_t n,
                   size_t hs, int acc) {
  accum(simd, out, ldo, a, lda, 1, zp, np, R, 0, n, hs, acc);
}

void llm_vatt_cols(int simd, float *out, size_t ldo, const float *a,
                   size_t lda, const float *zp, size_t np, size_t R,
                   size_t i0, size_t n, size_t hs, int acc) {
  accum(simd, out, ldo, a, 1, lda, zp, np, R, i0, n, hs, acc);
}
