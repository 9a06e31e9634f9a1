/*
** test_vattend.c: the decode attention kernels of vec.h, llm_vattend over
** floats and llm_vattend_f16 over halves (a KV cache in f16), against a
** double-precision reference on every SIMD level this CPU has; the halves'
** kernel gives bitwise what the floats' gives on the same values widened
** (widening is exact), and llm_vfrom_f16 widens every one of the 65536
** halves as llm_f16_to_f32 does, on every level.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qtypes.h"
#include "kernels/vec.h"
#include "rng.h"
#include "check.h"

#define REL_TOL 1e-5

static llm_rng rng;

/* y[hs] of one query over n keys and values (rows ld apart), in double. */
static void attend_ref(double *y, const float *q, const float *k, const float *v, size_t ld, size_t n,
                       size_t hs, double scale) {
  double *w = malloc(n * sizeof *w), mx = -INFINITY, sum = 0;
  for (size_t t = 0; t < n; t++) {
    double s = 0;
    for (size_t e = 0; e < hs; e++) s += (double)q[e] * k[t * ld + e];
    w[t] = scale * s;
    mx = fmax(mx, w[t]);
  }
  for (size_t t = 0; t < n; t++) sum += w[t] = exp(w[t] - mx);
  for (size_t e = 0; e < hs; e++) {
    y[e] = 0;
    for (size_t t = 0; t < n; t++) y[e] += w[t] * v[t * ld + e];
    y[e] /= sum;
  }
  free(w);
}

/* max |y - ref| over max |ref|. */
static double rel_err(const float *y, const double *ref, size_t n) {
  double d = 0, m = 0;
  for (size_t i = 0; i < n; i++) d = fmax(d, fabs(y[i] - ref[i])), m = fmax(m, fabs(ref[i]));
  return d / m;
}

static void test_attend_levels_and_halves(void) {
  static const size_t ns[] = {1, 7, 8, 9, 64, 333}, hss[] = {8, 12, 48, 64, 120, 128};
  for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
    for (size_t b = 0; b < sizeof hss / sizeof *hss; b++) {
      size_t n = ns[a], hs = hss[b], ld = 3 * hs, len = n * ld; /* rows hold three heads */
      float *q = malloc(hs * sizeof *q), *k = malloc(len * sizeof *k), *v = malloc(len * sizeof *v);
      float *kw = malloc(len * sizeof *kw), *vw = malloc(len * sizeof *vw), *sc = malloc(n * sizeof *sc);
      uint16_t *kh = malloc(len * sizeof *kh), *vh = malloc(len * sizeof *vh);
      float y[128], yh[128], yw[128], y0[128];
      double ref[128], refw[128], scale = 1.0 / sqrt((double)hs);
      for (size_t i = 0; i < hs; i++) q[i] = llm_rng_normal(&rng);
      for (size_t i = 0; i < len; i++) {
        k[i] = llm_rng_normal(&rng), v[i] = llm_rng_normal(&rng);
        kh[i] = llm_f32_to_f16(k[i]), vh[i] = llm_f32_to_f16(v[i]);
        kw[i] = llm_f16_to_f32(kh[i]), vw[i] = llm_f16_to_f32(vh[i]);
      }
      attend_ref(ref, q, k, v, ld, n, hs, scale);
      attend_ref(refw, q, kw, vw, ld, n, hs, scale);
      for (int level = 0; level <= llm_simd_best(); level++) {
        llm_vattend(level, y, sc, q, k, v, ld, n, hs, (float)scale);
        CHECK(rel_err(y, ref, hs) < REL_TOL);
        llm_vattend_f16(level, yh, sc, q, kh, vh, ld, n, hs, (float)scale);
        CHECK(rel_err(yh, refw, hs) < REL_TOL);
        llm_vattend(level, yw, sc, q, kw, vw, ld, n, hs, (float)scale);
        CHECK(!memcmp(yh, yw, hs * sizeof *yh));
        if (level == 0) memcpy(y0, yh, sizeof y0);
        double d = 0, m = 0;
        for (size_t e = 0; e < hs; e++) d = fmax(d, fabs(yh[e] - y0[e])), m = fmax(m, fabs(y0[e]));
        CHECK(d <= REL_TOL * m); /* each level within 1e-5 of the portable kernel */
      }
      /* the cache's rounding moves the result by about a half's precision */
      double r = rel_err(yh, ref, hs);
      CHECK(r < 1e-2);
      free(q), free(k), free(v), free(kw), free(vw), free(sc), free(kh), free(vh);
    }
}

static void test_vfrom_f16_every_half(void) {
  enum { N = 65536 };
  uint16_t *h = malloc(N * sizeof *h);
  float *f = malloc(N * sizeof *f);
  for (int i = 0; i < N; i++) h[i] = (uint16_t)i;
  for (int level = 0; level <= llm_simd_best(); level++) {
    /* in pieces of odd lengths, so every level's tail is used */
    for (size_t at = 0, len = 1; at < N; at += len, len = len * 2 + 3)
      llm_vfrom_f16(level, f + at, h + at, at + len <= N ? len : N - at);
    int same = 1;
    for (int i = 0; i < N; i++) {
      float want = llm_f16_to_f32(h[i]);
      same &= !memcmp(&want, f + i, sizeof want);
    }
    CHECK(same);
  }
  free(h);
  free(f);
}

int main(void) {
  llm_rng_seed(&rng, 15);
  RUN(test_attend_levels_and_halves);
  RUN(test_vfrom_f16_every_half);
  return CHECK_DONE();
}
