/* vec.c: row kernels, portable and AVX2+FMA (see vec.h). */
#include "kernels/vec.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qtypes.h"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f

/* ---------------------------------------------------------------------- */
/* Portable versions                                                       */

static float max_c(const float *x, size_t n) {
  float m = -INFINITY;
  for (size_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

static float sum_c(const float *x, size_t n) {
  float s = 0;
  for (size_t i = 0; i < n; i++) s += x[i];
  return s;
}

static float exp_sum_c(float *out, const float *x, size_t n, float shift) {
  float s = 0;
  for (size_t i = 0; i < n; i++) {
    float e = expf(x[i] - shift);
    if (out) out[i] = e;
    s += e;
  }
  return s;
}

static float sqdev_c(const float *x, size_t n, float mean) {
  float s = 0;
  for (size_t i = 0; i < n; i++) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

static void ln_sums_c(const float *dout, const float *x, const float *w,
                      size_t n, float mean, float rstd, float *s1, float *s2) {
  float a = 0, b = 0;
  for (size_t i = 0; i < n; i++) {
    float dn = dout[i] * w[i];
    a += dn;
    b += dn * (x[i] - mean) * rstd;
  }
  *s1 = a;
  *s2 = b;
}

/* gelu(x) = x sigmoid(2u) is the tanh form rewritten: one exp, no tanh. */
static float gelu_c(float x) {
  float u = GELU_K * x * (1.0f + GELU_A * x * x);
  return x / (1.0f + expf(-2.0f * u));
}

static float gelu_grad_c(float x) {
  float u = GELU_K * x * (1.0f + GELU_A * x * x);
  float du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
  float s = 1.0f / (1.0f + expf(-2.0f * u));
  return s + 2.0f * x * s * (1.0f - s) * du;
}

static float dot_c(const float *a, const float *b, size_t n) {
  float s = 0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* ---------------------------------------------------------------------- */
/* AVX2 + FMA                                                              */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2 1
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

/* A row's last r < 8 elements go through masked loads and stores, so
** there is no scalar tail that would round differently from the rest. */
static const int32_t tail_bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                      0,  0,  0,  0,  0,  0,  0,  0};

AVX2 static inline __m256i mask8(size_t r) {
  return _mm256_loadu_si256((const __m256i *)(tail_bits + 8 - (r < 8 ? r : 8)));
}
AVX2 static inline __m256 ld(const float *p, size_t r) {
  return r >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask8(r));
}
AVX2 static inline void st(float *p, __m256 v, size_t r) {
  if (r >= 8)
    _mm256_storeu_ps(p, v);
  else
    _mm256_maskstore_ps(p, mask8(r), v);
}
/* Zeroes the lanes past the row's end (masked loads give 0, but values
** computed from them, like exp(0 - shift), are not). */
AVX2 static inline __m256 keep(__m256 v, size_t r) {
  return r >= 8 ? v : _mm256_and_ps(v, _mm256_castsi256_ps(mask8(r)));
}
AVX2 static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
AVX2 static inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* exp(x) as 2^n e^r with n = round(x / ln 2), |r| <= ln2 / 2 and e^r from
** its Taylor series to degree 7 (truncation error < 1e-8 relative). ln 2 is
** split in two so that x - n ln2 stays exact. The input is clamped so 2^n
** stays a normal float: exp underflows to ~1e-38 instead of 0, which a
** softmax cannot tell apart. */
AVX2 static inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
  return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));
}

AVX2 static float max_avx2(const float *x, size_t n) {
  __m256 m = _mm256_set1_ps(-INFINITY);
  for (size_t i = 0; i < n; i += 8) {
    __m256 v = ld(x + i, n - i);
    if (n - i < 8)
      v = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v,
                           _mm256_castsi256_ps(mask8(n - i)));
    m = _mm256_max_ps(m, v);
  }
  return hmax(m);
}

AVX2 static float sum_avx2(const float *x, size_t n) {
  __m256 s = _mm256_setzero_ps();
  for (size_t i = 0; i < n; i += 8) s = _mm256_add_ps(s, ld(x + i, n - i));
  return hsum(s);
}

AVX2 static void add_avx2(float *y, const float *x, size_t n) {
  for (size_t i = 0; i < n; i += 8)
    st(y + i, _mm256_add_ps(ld(y + i, n - i), ld(x + i, n - i)), n - i);
}

AVX2 static void add3_avx2(float *out, const float *a, const float *b,
                           size_t n) {
  for (size_t i = 0; i < n; i += 8)
    st(out + i, _mm256_add_ps(ld(a + i, n - i), ld(b + i, n - i)), n - i);
}

AVX2 static float exp_sum_avx2(float *out, const float *x, size_t n,
                               float shift) {
  __m256 sh = _mm256_set1_ps(shift), s = _mm256_setzero_ps();
  for (size_t i = 0; i < n; i += 8) {
    __m256 e = keep(exp8(_mm256_sub_ps(ld(x + i, n - i), sh)), n - i);
    if (out) st(out + i, e, n - i);
    s = _mm256_add_ps(s, e);
  }
  return hsum(s);
}

AVX2 static void exp_scale_avx2(float *out, const float *x, size_t n,
                                float shift, float scale) {
  __m256 sh = _mm256_set1_ps(shift), sc = _mm256_set1_ps(scale);
  for (size_t i = 0; i < n; i += 8) {
    __m256 e = exp8(_mm256_sub_ps(ld(x + i, n - i), sh));
    st(out + i, _mm256_mul_ps(e, sc), n - i);
  }
}

AVX2 static void scale_avx2(float *x, size_t n, float a) {
  __m256 va = _mm256_set1_ps(a);
  for (size_t i = 0; i < n; i += 8)
    st(x + i, _mm256_mul_ps(ld(x + i, n - i), va), n - i);
}

AVX2 static float sqdev_avx2(const float *x, size_t n, float mean) {
  __m256 m = _mm256_set1_ps(mean), s = _mm256_setzero_ps();
  for (size_t i = 0; i < n; i += 8) {
    __m256 d = keep(_mm256_sub_ps(ld(x + i, n - i), m), n - i);
    s = _mm256_fmadd_ps(d, d, s);
  }
  return hsum(s);
}

AVX2 static void norm_affine_avx2(float *out, const float *x, size_t n,
                                  float mean, float rstd, const float *w,
                                  const float *b) {
  __m256 m = _mm256_set1_ps(mean), rs = _mm256_set1_ps(rstd);
  for (size_t i = 0; i < n; i += 8) {
    size_t r = n - i;
    __m256 nrm = _mm256_mul_ps(_mm256_sub_ps(ld(x + i, r), m), rs);
    st(out + i, _mm256_fmadd_ps(nrm, ld(w + i, r), ld(b + i, r)), r);
  }
}

AVX2 static void ln_sums_avx2(const float *dout, const float *x,
                              const float *w, size_t n, float mean, float rstd,
                              float *s1, float *s2) {
  __m256 m = _mm256_set1_ps(mean), rs = _mm256_set1_ps(rstd);
  __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
  for (size_t i = 0; i < n; i += 8) {
    size_t r = n - i;
    __m256 dn = _mm256_mul_ps(ld(dout + i, r), ld(w + i, r));
    __m256 nrm = keep(_mm256_mul_ps(_mm256_sub_ps(ld(x + i, r), m), rs), r);
    a = _mm256_add_ps(a, dn);
    b = _mm256_fmadd_ps(dn, nrm, b);
  }
  *s1 = hsum(a);
  *s2 = hsum(b);
}

AVX2 static void ln_dinp_avx2(float *dinp, const float *dout, const float *x,
                              const float *w, size_t n, float mean, float rstd,
                              float a, float b) {
  __m256 m = _mm256_set1_ps(mean), rs = _mm256_set1_ps(rstd);
  __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  for (size_t i = 0; i < n; i += 8) {
    size_t r = n - i;
    __m256 dn = _mm256_mul_ps(ld(dout + i, r), ld(w + i, r));
    __m256 nrm = _mm256_mul_ps(_mm256_sub_ps(ld(x + i, r), m), rs);
    __m256 g = _mm256_fnmadd_ps(nrm, vb, _mm256_sub_ps(dn, va));
    st(dinp + i, _mm256_fmadd_ps(g, rs, ld(dinp + i, r)), r);
  }
}

AVX2 static void ln_dparams_avx2(float *dw, float *db, const float *dout,
                                 const float *x, size_t n, float mean,
                                 float rstd) {
  __m256 m = _mm256_set1_ps(mean), rs = _mm256_set1_ps(rstd);
  for (size_t i = 0; i < n; i += 8) {
    size_t r = n - i;
    __m256 d = ld(dout + i, r);
    __m256 nrm = _mm256_mul_ps(_mm256_sub_ps(ld(x + i, r), m), rs);
    st(dw + i, _mm256_fmadd_ps(d, nrm, ld(dw + i, r)), r);
    st(db + i, _mm256_add_ps(d, ld(db + i, r)), r);
  }
}

/* sigmoid(2u) for the GELU, with u' returned through du. */
AVX2 static inline __m256 gelu_sig8(__m256 x, __m256 *du) {
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 k = _mm256_set1_ps(GELU_K), one = _mm256_set1_ps(1.0f);
  __m256 u = _mm256_mul_ps(_mm256_mul_ps(k, x),
                           _mm256_fmadd_ps(_mm256_set1_ps(GELU_A), x2, one));
  if (du)
    *du = _mm256_mul_ps(
        k, _mm256_fmadd_ps(_mm256_set1_ps(3.0f * GELU_A), x2, one));
  __m256 e = exp8(_mm256_mul_ps(u, _mm256_set1_ps(-2.0f)));
  return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

AVX2 static void gelu_avx2(float *out, const float *x, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    __m256 v = ld(x + i, n - i);
    st(out + i, _mm256_mul_ps(v, gelu_sig8(v, NULL)), n - i);
  }
}

/* silu(g) u = g / (1 + exp(-g)) u: exp(-g) is clamped (exp8), so a very
** negative g gives a tiny value of its sign rather than -0. */
AVX2 static void swiglu_avx2(float *out, const float *g, const float *u, size_t n) {
  __m256 one = _mm256_set1_ps(1.0f);
  for (size_t i = 0; i < n; i += 8) {
    __m256 v = ld(g + i, n - i);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
    st(out + i, _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(one, e)), ld(u + i, n - i)), n - i);
  }
}

/* du = d silu(g), dg = d u silu'(g), silu' = s (1 + g (1 - s)), s = sigmoid(g). */
AVX2 static void swiglu_backward_avx2(float *dg, float *du, const float *g, const float *u, const float *d,
                                      size_t n) {
  __m256 one = _mm256_set1_ps(1.0f);
  for (size_t i = 0; i < n; i += 8) {
    size_t r = n - i;
    __m256 v = ld(g + i, r), dv = ld(d + i, r);
    __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), v))));
    __m256 ds = _mm256_mul_ps(s, _mm256_fmadd_ps(v, _mm256_sub_ps(one, s), one));
    __m256 uv = ld(u + i, r);
    st(du + i, _mm256_mul_ps(dv, _mm256_mul_ps(v, s)), r);
    st(dg + i, _mm256_mul_ps(_mm256_mul_ps(dv, uv), ds), r);
  }
}

AVX2 static void gelu_backward_avx2(float *dinp, const float *x,
                                    const float *dout, size_t n) {
  __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
  for (size_t i = 0; i < n; i += 8) {
    size_t r = n - i;
    __m256 v = ld(x + i, r), du;
    __m256 s = gelu_sig8(v, &du);
    /* s + 2 x s (1 - s) u' */
    __m256 t = _mm256_mul_ps(_mm256_mul_ps(two, v),
                             _mm256_mul_ps(s, _mm256_sub_ps(one, s)));
    __m256 g = _mm256_fmadd_ps(t, du, s);
    st(dinp + i, _mm256_mul_ps(g, ld(dout + i, r)), r);
  }
}

AVX2 static void softmax_backward_avx2(float *ds, const float *p,
                                       const float *dp, size_t n,
                                       float scale) {
  __m256 acc = _mm256_setzero_ps();
  for (size_t i = 0; i < n; i += 8)
    acc = _mm256_fmadd_ps(ld(p + i, n - i), ld(dp + i, n - i), acc);
  __m256 d = _mm256_set1_ps(hsum(acc)), sc = _mm256_set1_ps(scale);
  for (size_t i = 0; i < n; i += 8) {
    size_t r = n - i;
    __m256 g = _mm256_mul_ps(ld(p + i, r), _mm256_sub_ps(ld(dp + i, r), d));
    st(ds + i, _mm256_mul_ps(g, sc), r);
  }
}

/* Inference kernels. The matrix-vector product streams the weights, which
** dominate a decode step. */
AVX2 static float dot_avx2(const float *a, const float *b, size_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (size_t i = 0; i < n; i += 8) {
    size_t r = n - i;
    acc = _mm256_fmadd_ps(ld(a + i, r), ld(b + i, r), acc);
  }
  return hsum(acc);
}

AVX2 static void axpy_avx2(float *y, float a, const float *x, size_t n) {
  __m256 av = _mm256_set1_ps(a);
  for (size_t i = 0; i < n; i += 8) {
    size_t r = n - i;
    st(y + i, _mm256_fmadd_ps(av, ld(x + i, r), ld(y + i, r)), r);
  }
}

/* The sums of eight accumulators, one per lane. */
AVX2 static inline __m256 hsum8x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4,
                                  __m256 a5, __m256 a6, __m256 a7) {
  __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* One row at a time, w read as one sequential stream: for long rows, where
** the weights come from memory, this measured faster (at the bandwidth of
** a plain sum) than interleaving rows. Four accumulators hide the latency
** of the FMA chain. */
AVX2 static void matvec_rows_avx2(float *out, const float *w, const float *x,
                                  size_t rows, size_t n) {
  size_t n32 = n / 32 * 32;
  for (size_t o = 0; o < rows; o++) {
    const float *r = w + o * n;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i < n32; i += 32) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r + i), _mm256_loadu_ps(x + i), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r + i + 8), _mm256_loadu_ps(x + i + 8), a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r + i + 16), _mm256_loadu_ps(x + i + 16), a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r + i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i < n; i += 8) a0 = _mm256_fmadd_ps(ld(r + i, n - i), ld(x + i, n - i), a0);
    out[o] += hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  }
}

AVX2 static void matvec_avx2(float *out, const float *w, const float *x,
                             size_t rows, size_t n) {
  if (n >= 256) {
    matvec_rows_avx2(out, w, x, rows, n);
    return;
  }
  /* Short rows (small models, whose weights sit in cache): eight rows at a
  ** time, so each load of x serves eight rows and the eight sums are
  ** reduced together, one horizontal reduction per eight rows. */
  size_t o = 0;
  for (; o + 8 <= rows; o += 8) {
    const float *r = w + o * n;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t i = 0; i < n; i += 8) {
      size_t m = n - i;
      __m256 xv = ld(x + i, m);
      a0 = _mm256_fmadd_ps(ld(r + i, m), xv, a0);
      a1 = _mm256_fmadd_ps(ld(r + n + i, m), xv, a1);
      a2 = _mm256_fmadd_ps(ld(r + 2 * n + i, m), xv, a2);
      a3 = _mm256_fmadd_ps(ld(r + 3 * n + i, m), xv, a3);
      a4 = _mm256_fmadd_ps(ld(r + 4 * n + i, m), xv, a4);
      a5 = _mm256_fmadd_ps(ld(r + 5 * n + i, m), xv, a5);
      a6 = _mm256_fmadd_ps(ld(r + 6 * n + i, m), xv, a6);
      a7 = _mm256_fmadd_ps(ld(r + 7 * n + i, m), xv, a7);
    }
    _mm256_storeu_ps(out + o, _mm256_add_ps(_mm256_loadu_ps(out + o),
                                            hsum8x8(a0, a1, a2, a3, a4, a5, a6, a7)));
  }
  for (; o < rows; o++) out[o] += dot_avx2(w + o * n, x, n);
}

/* The halves the KV cache may hold are widened with f16c, which every AVX2
** CPU has (see qkernels.h). */
#define AVX2_F16C __attribute__((target("avx2,fma,f16c")))

/* Eight elements of a cache row from element i: floats, or halves
** (widened exactly). */
AVX2_F16C static inline __m256 kv8(const void *p, size_t i, int half) {
  return half ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)))
              : _mm256_loadu_ps((const float *)p + i);
}

/* One head of decode attention, in one pass over the cache: scores of the
** n keys (row stride ld elements), their softmax, and the weighted sum of
** the values. hs is a multiple of 8 here. Inlined into one function per
** element type, where half is a constant. */
AVX2_F16C static inline __attribute__((always_inline)) void attend_avx2(float *y, float *sc, const float *q,
                                                                       const void *k, const void *v, int half,
                                                                       size_t ld, size_t n, size_t hs,
                                                                       float scale) {
  /* scores eight keys at a time, reduced together (see matvec_avx2) */
  size_t t = 0;
  __m256 mx8 = _mm256_set1_ps(-INFINITY), sc8 = _mm256_set1_ps(scale);
  for (; t + 8 <= n; t += 8) {
    size_t kt = t * ld;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t e = 0; e < hs; e += 8) {
      __m256 qv = _mm256_loadu_ps(q + e);
      a0 = _mm256_fmadd_ps(qv, kv8(k, kt + e, half), a0);
      a1 = _mm256_fmadd_ps(qv, kv8(k, kt + ld + e, half), a1);
      a2 = _mm256_fmadd_ps(qv, kv8(k, kt + 2 * ld + e, half), a2);
      a3 = _mm256_fmadd_ps(qv, kv8(k, kt + 3 * ld + e, half), a3);
      a4 = _mm256_fmadd_ps(qv, kv8(k, kt + 4 * ld + e, half), a4);
      a5 = _mm256_fmadd_ps(qv, kv8(k, kt + 5 * ld + e, half), a5);
      a6 = _mm256_fmadd_ps(qv, kv8(k, kt + 6 * ld + e, half), a6);
      a7 = _mm256_fmadd_ps(qv, kv8(k, kt + 7 * ld + e, half), a7);
    }
    __m256 s8 = _mm256_mul_ps(sc8, hsum8x8(a0, a1, a2, a3, a4, a5, a6, a7));
    _mm256_storeu_ps(sc + t, s8);
    mx8 = _mm256_max_ps(mx8, s8);
  }
  float mx = hmax(mx8);
  for (; t < n; t++) {
    __m256 a = _mm256_setzero_ps();
    for (size_t e = 0; e < hs; e += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + e), kv8(k, t * ld + e, half), a);
    sc[t] = scale * hsum(a);
    mx = sc[t] > mx ? sc[t] : mx;
  }
  float sum = exp_sum_avx2(sc, sc, n, mx), inv = 1.0f / sum;
  /* up to 64 columns (8 groups of 8) at a time in independent sums (one
  ** sum would wait on each fma's latency; a head of 48, as stories15M's, is
  ** one pass of 6); each column still sums over t in order */
  for (size_t e = 0; e < hs;) {
    size_t groups = (hs - e) / 8 < 8 ? (hs - e) / 8 : 8;
    __m256 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
    for (t = 0; t < n; t++) {
      __m256 s = _mm256_set1_ps(sc[t]);
      _Pragma("GCC unroll 8") for (size_t j = 0; j < 8; j++) if (j < groups)
        acc[j] = _mm256_fmadd_ps(s, kv8(v, t * ld + e + 8 * j, half), acc[j]);
    }
    __m256 iv = _mm256_set1_ps(inv);
    for (size_t j = 0; j < groups; j++, e += 8) _mm256_storeu_ps(y + e, _mm256_mul_ps(acc[j], iv));
  }
}

AVX2_F16C static void attend_f32_avx2(float *y, float *sc, const float *q, const float *k, const float *v,
                                      size_t ld, size_t n, size_t hs, float scale) {
  attend_avx2(y, sc, q, k, v, 0, ld, n, hs, scale);
}

AVX2_F16C static void attend_f16_avx2(float *y, float *sc, const float *q, const uint16_t *k,
                                      const uint16_t *v, size_t ld, size_t n, size_t hs, float scale) {
  attend_avx2(y, sc, q, k, v, 1, ld, n, hs, scale);
}

AVX2_F16C static void from_f16_avx2(float *dst, const uint16_t *src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, kv8(src, i, 1));
  for (; i < n; i++) dst[i] = llm_f16_to_f32(src[i]);
}

/* ---------------------------------------------------------------------- */
/* AVX-512, for the kernels that spend their time in exp                   */

#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline __mmask16 mask16(size_t r) {
  return r >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << r) - 1);
}

/* As exp8; scalef does the 2^n, which also keeps the result normal. */
AVX512 static inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  __m512 n = _mm512_roundscale_ps(
      _mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

AVX512 static float exp_sum_avx512(float *out, const float *x, size_t n,
                                   float shift) {
  __m512 sh = _mm512_set1_ps(shift), s = _mm512_setzero_ps();
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 k = mask16(n - i);
    __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), sh));
    if (out) _mm512_mask_storeu_ps(out + i, k, e);
    s = _mm512_mask_add_ps(s, k, s, e);
  }
  return _mm512_reduce_add_ps(s);
}

AVX512 static void exp_scale_avx512(float *out, const float *x, size_t n,
                                    float shift, float scale) {
  __m512 sh = _mm512_set1_ps(shift), sc = _mm512_set1_ps(scale);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 k = mask16(n - i);
    __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), sh));
    _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(e, sc));
  }
}

AVX512 static inline __m512 gelu_sig16(__m512 x, __m512 *du) {
  __m512 x2 = _mm512_mul_ps(x, x);
  __m512 k = _mm512_set1_ps(GELU_K), one = _mm512_set1_ps(1.0f);
  __m512 u = _mm512_mul_ps(_mm512_mul_ps(k, x),
                           _mm512_fmadd_ps(_mm512_set1_ps(GELU_A), x2, one));
  if (du)
    *du = _mm512_mul_ps(
        k, _mm512_fmadd_ps(_mm512_set1_ps(3.0f * GELU_A), x2, one));
  __m512 e = exp16(_mm512_mul_ps(u, _mm512_set1_ps(-2.0f)));
  return _mm512_div_ps(one, _mm512_add_ps(one, e));
}

AVX512 static void gelu_avx512(float *out, const float *x, size_t n) {
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 k = mask16(n - i);
    __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(v, gelu_sig16(v, NULL)));
  }
}

AVX512 static void swiglu_avx512(float *out, const float *g, const float *u, size_t n) {
  __m512 one = _mm512_set1_ps(1.0f);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 k = mask16(n - i);
    __m512 v = _mm512_maskz_loadu_ps(k, g + i);
    __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), v));
    __m512 s = _mm512_div_ps(v, _mm512_add_ps(one, e));
    _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, u + i)));
  }
}

AVX512 static void swiglu_backward_avx512(float *dg, float *du, const float *g, const float *u, const float *d,
                                          size_t n) {
  __m512 one = _mm512_set1_ps(1.0f);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 k = mask16(n - i);
    __m512 v = _mm512_maskz_loadu_ps(k, g + i), dv = _mm512_maskz_loadu_ps(k, d + i);
    __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), v))));
    __m512 ds = _mm512_mul_ps(s, _mm512_fmadd_ps(v, _mm512_sub_ps(one, s), one));
    __m512 uv = _mm512_maskz_loadu_ps(k, u + i);
    _mm512_mask_storeu_ps(du + i, k, _mm512_mul_ps(dv, _mm512_mul_ps(v, s)));
    _mm512_mask_storeu_ps(dg + i, k, _mm512_mul_ps(_mm512_mul_ps(dv, uv), ds));
  }
}

AVX512 static void gelu_backward_avx512(float *dinp, const float *x,
                                        const float *dout, size_t n) {
  __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 k = mask16(n - i);
    __m512 v = _mm512_maskz_loadu_ps(k, x + i), du;
    __m512 s = gelu_sig16(v, &du);
    __m512 t = _mm512_mul_ps(_mm512_mul_ps(two, v),
                             _mm512_mul_ps(s, _mm512_sub_ps(one, s)));
    __m512 g = _mm512_fmadd_ps(t, du, s);
    _mm512_mask_storeu_ps(dinp + i, k,
                          _mm512_mul_ps(g, _mm512_maskz_loadu_ps(k, dout + i)));
  }
}

AVX512 static void softmax_backward_avx512(float *ds, const float *p,
                                           const float *dp, size_t n,
                                           float scale) {
  __m512 acc = _mm512_setzero_ps();
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 k = mask16(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, p + i),
                          _mm512_maskz_loadu_ps(k, dp + i), acc);
  }
  __m512 d = _mm512_set1_ps(_mm512_reduce_add_ps(acc));
  __m512 sc = _mm512_set1_ps(scale);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 k = mask16(n - i);
    __m512 pv = _mm512_maskz_loadu_ps(k, p + i);
    __m512 dpv = _mm512_maskz_loadu_ps(k, dp + i);
    __m512 g = _mm512_mul_ps(pv, _mm512_sub_ps(dpv, d));
    _mm512_mask_storeu_ps(ds + i, k, _mm512_mul_ps(g, sc));
  }
}
#endif

/* ---------------------------------------------------------------------- */
/* Dispatch                                                                */

static const char *const SIMD_NAMES[] = {"sse2", "avx2+fma", "avx512", "avx512+bf16"};

const char *llm_simd_name(int level) { return SIMD_NAMES[level]; }

int llm_simd_by_name(const char *name) {
  for (int i = 0; name && i < (int)(sizeof SIMD_NAMES / sizeof *SIMD_NAMES); i++)
    if (!strcmp(name, SIMD_NAMES[i])) return i;
  return -1;
}

static int cpu_level(void) {
#ifdef HAVE_AVX2
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    return LLM_SIMD_SCALAR;
  if (!__builtin_cpu_supports("avx512f")) return LLM_SIMD_AVX2;
  return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") ? LLM_SIMD_AVX512_BF16
                                                                                   : LLM_SIMD_AVX512;
#else
  return LLM_SIMD_SCALAR;
#endif
}

/* (read at every call, not kept: a few lookups, where the callers run
** whole products or passes) */
int llm_simd_best(void) {
  int cpu = cpu_level(), cap = llm_simd_by_name(getenv("LLM_SIMD"));
  return cap >= 0 && cap < cpu ? cap : cpu;
}

/* Return, or run and return, through a SIMD kernel when the level allows.
** A level includes the ones below it: kernels without an AVX-512 version
** run their AVX2 one at that level. */
#ifdef HAVE_AVX2
#define SIMD_RET(simd, level, call) \
  if ((simd) >= (level)) return call
#define SIMD_RUN(simd, level, call) \
  if ((simd) >= (level)) {          \
    call;                           \
    return;                         \
  }
#else
#define SIMD_RET(simd, level, call) (void)(simd)
#define SIMD_RUN(simd, level, call) (void)(simd)
#endif
#define AVX2_RET(simd, call) SIMD_RET(simd, LLM_SIMD_AVX2, call)
#define AVX2_RUN(simd, call) SIMD_RUN(simd, LLM_SIMD_AVX2, call)
#define AVX512_RET(simd, call) SIMD_RET(simd, LLM_SIMD_AVX512, call)
#define AVX512_RUN(simd, call) SIMD_RUN(simd, LLM_SIMD_AVX512, call)

float llm_vmax(int simd, const float *x, size_t n) {
  AVX2_RET(simd, max_avx2(x, n));
  return max_c(x, n);
}

float llm_vsum(int simd, const float *x, size_t n) {
  AVX2_RET(simd, sum_avx2(x, n));
  return sum_c(x, n);
}

void llm_vadd(int simd, float *y, const float *x, size_t n) {
  AVX2_RUN(simd, add_avx2(y, x, n));
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void llm_vadd3(int simd, float *out, const float *a, const float *b,
               size_t n) {
  AVX2_RUN(simd, add3_avx2(out, a, b, n));
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

float llm_vexp_sum(int simd, float *out, const float *x, size_t n,
                   float shift) {
  AVX512_RET(simd, exp_sum_avx512(out, x, n, shift));
  AVX2_RET(simd, exp_sum_avx2(out, x, n, shift));
  return exp_sum_c(out, x, n, shift);
}

void llm_vexp_scale(int simd, float *out, const float *x, size_t n,
                    float shift, float scale) {
  AVX512_RUN(simd, exp_scale_avx512(out, x, n, shift, scale));
  AVX2_RUN(simd, exp_scale_avx2(out, x, n, shift, scale));
  for (size_t i = 0; i < n; i++) out[i] = expf(x[i] - shift) * scale;
}

void llm_vscale(int simd, float *x, size_t n, float a) {
  AVX2_RUN(simd, scale_avx2(x, n, a));
  for (size_t i = 0; i < n; i++) x[i] *= a;
}

float llm_vsqdev(int simd, const float *x, size_t n, float mean) {
  AVX2_RET(simd, sqdev_avx2(x, n, mean));
  return sqdev_c(x, n, mean);
}

void llm_vnorm_affine(int simd, float *out, const float *x, size_t n,
                      float mean, float rstd, const float *w, const float *b) {
  AVX2_RUN(simd, norm_affine_avx2(out, x, n, mean, rstd, w, b));
  for (size_t i = 0; i < n; i++) out[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

void llm_vln_sums(int simd, const float *dout, const float *x, const float *w,
                  size_t n, float mean, float rstd, float *s1, float *s2) {
  AVX2_RUN(simd, ln_sums_avx2(dout, x, w, n, mean, rstd, s1, s2));
  ln_sums_c(dout, x, w, n, mean, rstd, s1, s2);
}

void llm_vln_dinp(int simd, float *dinp, const float *dout, const float *x,
                  const float *w, size_t n, float mean, float rstd, float a,
                  float b) {
  AVX2_RUN(simd, ln_dinp_avx2(dinp, dout, x, w, n, mean, rstd, a, b));
  for (size_t i = 0; i < n; i++) {
    float nrm = (x[i] - mean) * rstd;
    dinp[i] += rstd * (dout[i] * w[i] - a - nrm * b);
  }
}

void llm_vln_dparams(int simd, float *dw, float *db, const float *dout,
                     const float *x, size_t n, float mean, float rstd) {
  AVX2_RUN(simd, ln_dparams_avx2(dw, db, dout, x, n, mean, rstd));
  for (size_t i = 0; i < n; i++) {
    dw[i] += dout[i] * (x[i] - mean) * rstd;
    db[i] += dout[i];
  }
}

void llm_vgelu(int simd, float *out, const float *x, size_t n) {
  AVX512_RUN(simd, gelu_avx512(out, x, n));
  AVX2_RUN(simd, gelu_avx2(out, x, n));
  for (size_t i = 0; i < n; i++) out[i] = gelu_c(x[i]);
}

void llm_vswiglu(int simd, float *out, const float *g, const float *u, size_t n) {
  AVX512_RUN(simd, swiglu_avx512(out, g, u, n));
  AVX2_RUN(simd, swiglu_avx2(out, g, u, n));
  for (size_t i = 0; i < n; i++) out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void llm_vswiglu_backward(int simd, float *dg, float *du, const float *g, const float *u, const float *d,
                          size_t n) {
  AVX512_RUN(simd, swiglu_backward_avx512(dg, du, g, u, d, n));
  AVX2_RUN(simd, swiglu_backward_avx2(dg, du, g, u, d, n));
  for (size_t i = 0; i < n; i++) {
    float gi = g[i], ui = u[i], di = d[i], s = 1.0f / (1.0f + expf(-gi));
    du[i] = di * gi * s;
    dg[i] = di * ui * s * (1.0f + gi * (1.0f - s));
  }
}

void llm_vgelu_backward(int simd, float *dinp, const float *x,
                        const float *dout, size_t n) {
  AVX512_RUN(simd, gelu_backward_avx512(dinp, x, dout, n));
  AVX2_RUN(simd, gelu_backward_avx2(dinp, x, dout, n));
  for (size_t i = 0; i < n; i++) dinp[i] = dout[i] * gelu_grad_c(x[i]);
}

void llm_vsoftmax_backward(int simd, float *ds, const float *p,
                           const float *dp, size_t n, float scale) {
  AVX512_RUN(simd, softmax_backward_avx512(ds, p, dp, n, scale));
  AVX2_RUN(simd, softmax_backward_avx2(ds, p, dp, n, scale));
  float d = dot_c(p, dp, n);
  for (size_t i = 0; i < n; i++) ds[i] = scale * p[i] * (dp[i] - d);
}

float llm_vdot(int simd, const float *a, const float *b, size_t n) {
  AVX2_RET(simd, dot_avx2(a, b, n));
  return dot_c(a, b, n);
}

void llm_vaxpy(int simd, float *y, float a, const float *x, size_t n) {
  AVX2_RUN(simd, axpy_avx2(y, a, x, n));
  for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

void llm_vmatvec(int simd, float *out, const float *w, const float *x,
                 size_t rows, size_t n) {
  AVX2_RUN(simd, matvec_avx2(out, w, x, rows, n));
  for (size_t o = 0; o < rows; o++) out[o] += dot_c(w + o * n, x, n);
}

/* Element i of a cache row: a float, or a half. */
static inline float kv_at(const void *p, size_t i, int half) {
  return half ? llm_f16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

static void attend_c(float *y, float *sc, const float *q, const void *k, const void *v, int half, size_t ld,
                     size_t n, size_t hs, float scale) {
  float mx = -INFINITY;
  for (size_t t = 0; t < n; t++) {
    float s = 0;
    for (size_t e = 0; e < hs; e++) s += q[e] * kv_at(k, t * ld + e, half);
    sc[t] = scale * s;
    mx = sc[t] > mx ? sc[t] : mx;
  }
  float sum = exp_sum_c(sc, sc, n, mx);
  for (size_t e = 0; e < hs; e++) y[e] = 0;
  for (size_t t = 0; t < n; t++)
    for (size_t e = 0; e < hs; e++) y[e] += sc[t] * kv_at(v, t * ld + e, half);
  for (size_t e = 0; e < hs; e++) y[e] /= sum;
}

void llm_vattend(int simd, float *y, float *sc, const float *q, const float *k, const float *v,
                 size_t ld, size_t n, size_t hs, float scale) {
  if (hs % 8 == 0) AVX2_RUN(simd, attend_f32_avx2(y, sc, q, k, v, ld, n, hs, scale));
  attend_c(y, sc, q, k, v, 0, ld, n, hs, scale);
}

void llm_vattend_f16(int simd, float *y, float *sc, const float *q, const uint16_t *k, const uint16_t *v,
                     size_t ld, size_t n, size_t hs, float scale) {
  if (hs % 8 == 0) AVX2_RUN(simd, attend_f16_avx2(y, sc, q, k, v, ld, n, hs, scale));
  attend_c(y, sc, q, k, v, 1, ld, n, hs, scale);
}

void llm_vfrom_f16(int simd, float *dst, const uint16_t *src, size_t n) {
  AVX2_RUN(simd, from_f16_avx2(dst, src, n));
  for (size_t i = 0; i < n; i++) dst[i] = llm_f16_to_f32(src[i]);
}
