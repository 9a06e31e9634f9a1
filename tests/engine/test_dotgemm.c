/* test_dotgemm.c: llm_dotgemm (kernels/dotgemm.h) on every SIMD level this
** CPU has and every weight type.
**
**   - against a float64 product of the same (widened) weights, within the
**     rounding bound of a float sum of K / lanes + 4 terms (at the level
**     AVX512_BF16 with bfloat16 weights: of x rounded to bfloat16), for n, m and K
**     off the tile sizes and vector widths, acc 0 and 1, strides wider
**     than the rows; the strides' padding holds NaN (it must not be read)
**     and out's padding must stay as it was;
**   - bitwise row invariance: a row of a product of n rows equals the
**     product of that row alone, at the start, middle and end;
**   - bitwise column invariance: a W row's column equals the one of a
**     product over any slice of W rows containing it (as threads split);
**   - with its workspace allocation failing, the same bits as with it.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "kernels/dotgemm.h"
#include "kernels/qtypes.h"
#include "kernels/vec.h"
#include "alloc_fail.h"
#include "check.h"

static const int TYPES[] = {LLM_DOTGEMM_F32, LLM_DOTGEMM_F16, LLM_DOTGEMM_BF16};
#define N_TYPES 3

static uint32_t next_u32(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return (uint32_t)((*s * 0x2545F4914F6CDD1Dull) >> 32);
}

static float uniform(uint64_t *s) { /* [-1, 1) */
  return (float)next_u32(s) / 2147483648.0f - 1.0f;
}

static size_t esize(int wt) { return wt == LLM_DOTGEMM_F32 ? 4 : 2; }

static void put_weight(uint8_t *p, int wt, float f) {
  if (wt == LLM_DOTGEMM_F32) {
    memcpy(p, &f, 4);
    return;
  }
  uint16_t h = wt == LLM_DOTGEMM_F16 ? llm_f32_to_f16(f) : llm_f32_to_bf16(f);
  memcpy(p, &h, 2);
}

static float get_weight(const uint8_t *p, int wt) {
  if (wt == LLM_DOTGEMM_F32) {
    float f;
    memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  memcpy(&h, p, 2);
  return wt == LLM_DOTGEMM_F16 ? llm_f16_to_f32(h) : llm_bf16_to_f32(h);
}

/* m rows of K random weights, row_bytes apart; the rest of each row NaN.
** Aligned to 64 bytes: float32 rows on whole lines are read in place,
** others copied (dotgemm.c), and the tests cover both. */
static uint8_t *make_weights(int wt, size_t m, size_t K, size_t row_bytes, uint64_t *s) {
  uint8_t *w = aligned_alloc(64, (m * row_bytes + 63) / 64 * 64);
  for (size_t j = 0; j < m; j++)
    for (size_t k = 0; k < row_bytes / esize(wt); k++)
      put_weight(w + j * row_bytes + k * esize(wt), wt, k < K ? uniform(s) : NAN);
  return w;
}

/* n rows of K random floats, ld apart, NaN between. */
static float *make_rows(size_t n, size_t K, size_t ld, uint64_t *s) {
  float *x = malloc(n * ld * sizeof *x);
  for (size_t i = 0; i < n * ld; i++) x[i] = i % ld < K ? uniform(s) : NAN;
  return x;
}

/* ---- against float64 ------------------------------------------------------- */

/* (2047: rows of (K + 1) 16-bit weights 4 KB apart, which are copied) */
static const size_t KS[] = {1, 7, 64, 100, 768, 2047, 2048 + 5};
static const size_t NS[] = {1, 2, 3, 5, 17, 64};
static const size_t MS[] = {1, 3, 33, 256};
#define N_MAX 64
#define M_MAX 256
#define ARRAY_LEN(a) (sizeof a / sizeof *a)

/* Checks one product (n, m of the full N_MAX x M_MAX problem) against the
** exact sums and magnitudes; out0 is out before the call (acc). */
static int close_enough(const float *out, size_t ldo, const float *out0, const double *exact,
                        const double *mag, size_t n, size_t m, size_t K, int acc) {
  /* float sums of K / 8 + 4 terms (lanes, reduction, acc), each rounding at
  ** most 2^-24 of the running magnitude */
  double u = ldexp(1.0, -24), terms = (double)K / 8 + 4, gamma = terms * u / (1 - terms * u);
  for (size_t r = 0; r < n; r++)
    for (size_t j = 0; j < m; j++) {
      double base = acc ? out0[r * ldo + j] : 0.0;
      double want = base + exact[r * M_MAX + j], bound = gamma * (mag[r * M_MAX + j] + fabs(base)) + 1e-30;
      if (!(fabs(out[r * ldo + j] - want) <= bound)) {
        printf("  r %zu j %zu: %.9g, want %.9g (bound %.3g)\n", r, j, out[r * ldo + j], want, bound);
        return 0;
      }
    }
  return 1;
}

static void test_against_float64(void) {
  uint64_t s = 42;
  int best = llm_simd_best();
  for (size_t ki = 0; ki < ARRAY_LEN(KS); ki++)
    for (int ti = 0; ti < N_TYPES; ti++) {
      int wt = TYPES[ti];
      size_t K = KS[ki], ldx = K + 3, row_bytes = (K + 1) * esize(wt), ldo = M_MAX + 5;
      float *x = make_rows(N_MAX, K, ldx, &s);
      uint8_t *w = make_weights(wt, M_MAX, K, row_bytes, &s);
      /* [0]: of x as it is; [1]: of x rounded to bfloat16 (nearest even),
      ** as LLM_SIMD_AVX512_BF16 takes it with bfloat16 weights */
      double *exact[2], *mag[2];
      for (int rounded = 0; rounded < 2; rounded++) {
        exact[rounded] = malloc(N_MAX * M_MAX * sizeof(double)), mag[rounded] = malloc(N_MAX * M_MAX * sizeof(double));
        for (size_t r = 0; r < N_MAX; r++)
          for (size_t j = 0; j < M_MAX; j++) {
            double e = 0, a = 0;
            for (size_t k = 0; k < K; k++) {
              float xk = rounded ? llm_bf16_to_f32(llm_f32_to_bf16(x[r * ldx + k])) : x[r * ldx + k];
              double p = (double)xk * get_weight(w + j * row_bytes + k * esize(wt), wt);
              e += p, a += fabs(p);
            }
            exact[rounded][r * M_MAX + j] = e, mag[rounded][r * M_MAX + j] = a;
          }
      }
      float *out0 = make_rows(N_MAX, M_MAX, ldo, &s), *out = malloc(N_MAX * ldo * sizeof *out);
      for (int simd = 0; simd <= best; simd++) {
        int rounded = simd >= LLM_SIMD_AVX512_BF16 && wt == LLM_DOTGEMM_BF16;
        for (size_t ni = 0; ni < ARRAY_LEN(NS); ni++)
          for (size_t mi = 0; mi < ARRAY_LEN(MS); mi++)
            for (int acc = 0; acc < 2; acc++) {
              size_t n = NS[ni], m = MS[mi];
              memcpy(out, out0, N_MAX * ldo * sizeof *out);
              llm_dotgemm(simd, out, ldo, x, ldx, n, w, wt, row_bytes, m, K, acc);
              int ok = close_enough(out, ldo, out0, exact[rounded], mag[rounded], n, m, K, acc);
              /* nothing written outside [0, n) x [0, m) */
              for (size_t r = 0; r < N_MAX && ok; r++)
                for (size_t j = 0; j < ldo && ok; j++)
                  if ((r >= n || j >= m) && memcmp(&out[r * ldo + j], &out0[r * ldo + j], 4)) ok = 0;
              if (!ok) printf("  level %d type %d n %zu m %zu K %zu acc %d\n", simd, wt, n, m, K, acc);
              CHECK(ok);
            }
      }
      free(x), free(w), free(exact[0]), free(exact[1]), free(mag[0]), free(mag[1]), free(out0), free(out);
    }
}

/* ---- bitwise invariance -------------------------------------------------- */

/* K: a tail in a lane, a whole vector, a tail after chunks (see dotgemm.c's
** KC = 1024), rows 4 KB apart (2048 16-bit weights, copied), n past the
** driver's block of 256 rows; m off every tile. */
static const size_t INV_KS[] = {7, 100, 768, 2048, 2048 + 5};
static const size_t INV_NS[] = {2, 3, 16, 64, 130, 261};
#define INV_M 37

static void test_row_invariance(void) {
  uint64_t s = 7;
  int best = llm_simd_best();
  for (size_t ki = 0; ki < ARRAY_LEN(INV_KS); ki++)
    for (int ti = 0; ti < N_TYPES; ti++) {
      int wt = TYPES[ti];
      size_t K = INV_KS[ki], ldx = K + 1, row_bytes = K * esize(wt), n_max = INV_NS[ARRAY_LEN(INV_NS) - 1];
      float *x = make_rows(n_max, K, ldx, &s);
      uint8_t *w = make_weights(wt, INV_M, K, row_bytes, &s);
      float *out = malloc(n_max * INV_M * sizeof *out), alone[INV_M];
      for (int simd = 0; simd <= best; simd++)
        for (size_t ni = 0; ni < ARRAY_LEN(INV_NS); ni++) {
          size_t n = INV_NS[ni], rows[3] = {0, n / 2, n - 1};
          llm_dotgemm(simd, out, INV_M, x, ldx, n, w, wt, row_bytes, INV_M, K, 0);
          for (int q = 0; q < 3; q++) {
            llm_dotgemm(simd, alone, INV_M, x + rows[q] * ldx, ldx, 1, w, wt, row_bytes, INV_M, K, 0);
            int same = memcmp(alone, out + rows[q] * INV_M, sizeof alone) == 0;
            if (!same) printf("  level %d type %d K %zu: row %zu of %zu differs\n", simd, wt, K, rows[q], n);
            CHECK(same);
          }
        }
      free(x), free(w), free(out);
    }
}

static void test_column_invariance(void) {
  uint64_t s = 9;
  int best = llm_simd_best();
  /* slices [j0, j1) of [0, INV_M), as threads would take them */
  static const size_t SLICES[][2] = {{0, 1}, {0, 9}, {5, 6}, {3, 20}, {17, 37}, {36, 37}, {1, 36}};
  for (size_t ki = 0; ki < ARRAY_LEN(INV_KS); ki++)
    for (int ti = 0; ti < N_TYPES; ti++) {
      int wt = TYPES[ti];
      size_t K = INV_KS[ki], row_bytes = K * esize(wt);
      for (int simd = 0; simd <= best; simd++)
        for (size_t n = 1; n <= 130; n += 43) {
          float *x = make_rows(n, K, K, &s), *all = malloc(n * INV_M * sizeof *all);
          float *part = malloc(n * INV_M * sizeof *part);
          uint8_t *w = make_weights(wt, INV_M, K, row_bytes, &s);
          llm_dotgemm(simd, all, INV_M, x, K, n, w, wt, row_bytes, INV_M, K, 0);
          for (size_t q = 0; q < ARRAY_LEN(SLICES); q++) {
            size_t j0 = SLICES[q][0], j1 = SLICES[q][1];
            llm_dotgemm(simd, part, INV_M, x, K, n, w + j0 * row_bytes, wt, row_bytes, j1 - j0, K, 0);
            int same = 1;
            for (size_t r = 0; r < n; r++) same &= memcmp(part + r * INV_M, all + r * INV_M + j0, (j1 - j0) * 4) == 0;
            if (!same) printf("  level %d type %d K %zu n %zu: slice [%zu, %zu) differs\n", simd, wt, K, n, j0, j1);
            CHECK(same);
          }
          free(x), free(w), free(all), free(part);
        }
    }
}

static void test_without_workspace(void) {
  uint64_t s = 11;
  int best = llm_simd_best();
  size_t n = 70, m = 19, K = 1300;
  float *x = make_rows(n, K, K, &s), *with = malloc(n * m * sizeof *with), *without = malloc(n * m * sizeof *without);
  for (int ti = 0; ti < N_TYPES; ti++) {
    int wt = TYPES[ti];
    uint8_t *w = make_weights(wt, m, K, K * esize(wt), &s);
    for (int simd = 0; simd <= best; simd++) {
      llm_dotgemm(simd, with, m, x, K, n, w, wt, K * esize(wt), m, K, 0);
      llm_test_fail_allocs_after(0);
      llm_dotgemm(simd, without, m, x, K, n, w, wt, K * esize(wt), m, K, 0);
      CHECK(llm_test_allocs_failed() == 1); /* the fallback was taken */
      llm_test_fail_allocs_after(-1);
      CHECK(memcmp(with, without, n * m * sizeof *with) == 0);
    }
    free(w);
  }
  free(x), free(with), free(without);
}

int main(void) {
  printf("  SIMD levels 0..%d\n", llm_simd_best());
  RUN(test_against_float64);
  RUN(test_row_invariance);
  RUN(test_column_invariance);
  RUN(test_without_workspace);
  return CHECK_DONE();
}
