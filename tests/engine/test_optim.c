/* test_optim.c: AdamW against a double-precision reference written here
** (PyTorch's torch.optim.AdamW semantics), gradient clipping, and the
** learning-rate schedule against nanoGPT's closed form. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/optim.h"
#include "rng.h"
#include "check.h"

/* ---- AdamW ---------------------------------------------------------- */

#define N 1000

/* Segments in an order that is not the buffer order, of mixed decay, with
** [950, 1000) belonging to none (it must not be touched). */
static const llm_param_seg SEGS[] = {
    {300, 7, 0},   /* a bias-like run */
    {0, 300, 1},   /* a matrix */
    {800, 150, 0}, /* norm gains */
    {307, 493, 1}, /* another matrix */
};
#define N_SEGS 4

/* Decay flag of element i per SEGS, or -1 when no segment holds it. */
static int decay_of(size_t i) {
  for (int s = 0; s < N_SEGS; s++)
    if (i >= SEGS[s].offset && i < SEGS[s].offset + SEGS[s].numel)
      return SEGS[s].decay;
  return -1;
}

/* torch.optim.AdamW.step for one element, in double: decay the parameter,
** update the moments, then apply the bias-corrected Adam term. */
static void ref_step(const llm_adamw *o, int64_t t, int decay, double *p,
                     double g, double *m, double *v) {
  double lr = o->lr, b1 = o->beta1, b2 = o->beta2, eps = o->eps,
         wd = o->weight_decay;
  if (decay && wd != 0) *p *= 1 - lr * wd;
  *m = b1 * *m + (1 - b1) * g;
  *v = b2 * *v + (1 - b2) * g * g;
  double bc1 = 1 - pow(b1, (double)t), bc2 = 1 - pow(b2, (double)t);
  *p -= lr / bc1 * *m / (sqrt(*v) / sqrt(bc2) + eps);
}

/* Gradients of very different sizes per region: tiny ones (where eps
** dominates the denominator), ordinary ones and large ones. */
static void random_grads(llm_rng *r, float *g) {
  for (size_t i = 0; i < N; i++) {
    double scale = i % 3 == 0 ? 1e-9 : i % 3 == 1 ? 1e-2 : 30.0;
    g[i] = (float)(scale * llm_rng_normal(r));
  }
}

typedef struct state {
  float p[N], m[N], v[N];
} state;

static void init_state(state *s, uint64_t seed) {
  llm_rng r;
  llm_rng_seed(&r, seed);
  for (size_t i = 0; i < N; i++) {
    s->p[i] = llm_rng_normal(&r);
    s->m[i] = 0;
    s->v[i] = 0;
  }
}

static const llm_adamw OPT = {3e-3f, 0.9f, 0.95f, 1e-8f, 0.1f};

/* Lock-step comparison: before every one of 50 steps the reference starts
** from the float state, so each step is checked on its own, to rounding. */
static void test_adamw_vs_reference(void) {
  static state s;
  init_state(&s, 1);
  llm_rng r;
  llm_rng_seed(&r, 2);
  float g[N];
  double worst_p = 0, worst_m = 0, worst_v = 0;
  int untouched = 1;
  for (int64_t t = 1; t <= 50; t++) {
    random_grads(&r, g);
    state before = s;
    llm_adamw_step(&OPT, t, s.p, g, s.m, s.v, SEGS, N_SEGS, NULL);
    for (size_t i = 0; i < N; i++) {
      int d = decay_of(i);
      if (d < 0) {
        untouched &= memcmp(&s.p[i], &before.p[i], sizeof(float)) == 0 &&
                     s.m[i] == 0 && s.v[i] == 0;
        continue;
      }
      double p = before.p[i], m = before.m[i], v = before.v[i];
      ref_step(&OPT, t, d, &p, g[i], &m, &v);
      /* Errors relative to the size of the terms that were added. */
      double p_scale = fabs((double)before.p[i]) + fabs(p - before.p[i]);
      double m_scale = fabs((double)before.m[i]) + fabs((double)g[i]);
      double v_scale = before.v[i] + (double)g[i] * g[i];
      double ep = fabs(s.p[i] - p) / p_scale;
      double em = m_scale > 0 ? fabs(s.m[i] - m) / m_scale : fabs(s.m[i] - m);
      double ev = v_scale > 0 ? fabs(s.v[i] - v) / v_scale : fabs(s.v[i] - v);
      if (ep > worst_p) worst_p = ep;
      if (em > worst_m) worst_m = em;
      if (ev > worst_v) worst_v = ev;
    }
  }
  printf("  worst relative error per step: p %.2e, m %.2e, v %.2e\n", worst_p,
         worst_m, worst_v);
  CHECK(worst_p < 1e-6);
  CHECK(worst_m < 1e-6);
  CHECK(worst_v < 1e-6);
  CHECK(untouched);
}

/* Free-running: 50 steps in float and in double from the same start. The
** float run drifts by accumulated rounding only. */
static void test_adamw_trajectory(void) {
  static state s;
  static double p[N], m[N], v[N];
  init_state(&s, 3);
  for (size_t i = 0; i < N; i++) {
    p[i] = s.p[i];
    m[i] = v[i] = 0;
  }
  llm_rng r;
  llm_rng_seed(&r, 4);
  float g[N];
  for (int64_t t = 1; t <= 50; t++) {
    random_grads(&r, g);
    llm_adamw_step(&OPT, t, s.p, g, s.m, s.v, SEGS, N_SEGS, NULL);
    for (size_t i = 0; i < N; i++)
      if (decay_of(i) >= 0) ref_step(&OPT, t, decay_of(i), &p[i], g[i], &m[i], &v[i]);
  }
  static state start;
  init_state(&start, 3);
  double worst = 0, moved = 0;
  for (size_t i = 0; i < N; i++) {
    if (decay_of(i) < 0) continue;
    /* relative to |p| plus the distance that 50 steps of size lr cover */
    double e = fabs(s.p[i] - p[i]) / (fabs(p[i]) + 50 * OPT.lr);
    if (e > worst) worst = e;
    moved += fabs(p[i] - start.p[i]);
  }
  printf("  worst relative drift after 50 steps: %.2e\n", worst);
  CHECK(worst < 1e-5);
  CHECK(moved > 0.1); /* the parameters did move */
}

/* The first step has a closed form: m^ = g and v^ = g^2, so
** p1 = p0 (1 - lr wd) - lr g / (|g| + eps). */
static void test_adamw_first_step(void) {
  float p[4] = {1.0f, -2.0f, 0.5f, 3.0f};
  float g[4] = {0.5f, -0.25f, 4.0f, -1e-3f};
  float m[4] = {0}, v[4] = {0};
  llm_param_seg seg[2] = {{0, 2, 1}, {2, 2, 0}};
  llm_adamw_step(&OPT, 1, p, g, m, v, seg, 2, NULL);
  const double p0[4] = {1.0, -2.0, 0.5, 3.0};
  int ok = 1;
  for (int i = 0; i < 4; i++) {
    double decay = i < 2 ? 1 - (double)OPT.lr * OPT.weight_decay : 1.0;
    double want = p0[i] * decay -
                  OPT.lr * g[i] / (fabs((double)g[i]) + OPT.eps);
    ok &= fabs(p[i] - want) <= 1e-6 * fabs(want);
  }
  CHECK(ok);
}

/* With zero gradient and zero moments the Adam term is exactly 0, leaving
** the decay alone: PyTorch's p.mul_(1 - lr wd), one float multiply by the
** float-rounded factor, bit for bit (not p - lr wd p). */
static void test_adamw_decay_order(void) {
  float p[3] = {1.2345678f, -7.654321f, 1e-20f};
  float g[3] = {0}, m[3] = {0}, v[3] = {0};
  llm_param_seg seg = {0, 3, 1};
  llm_adamw_step(&OPT, 7, p, g, m, v, &seg, 1, NULL);
  float f = (float)(1.0 - (double)OPT.lr * OPT.weight_decay);
  CHECK(p[0] == 1.2345678f * f);
  CHECK(p[1] == -7.654321f * f);
  CHECK(p[2] == 1e-20f * f);
  CHECK(m[0] == 0 && v[0] == 0);
  /* Over many values, p - (lr wd) p would differ from p * (1 - lr wd) in
  ** the last bit somewhere. */
  enum { K = 4096 };
  static float q0[K], qp[K], qg[K], qm[K], qv[K];
  llm_rng r;
  llm_rng_seed(&r, 11);
  for (int i = 0; i < K; i++) qp[i] = q0[i] = llm_rng_normal(&r) * 10;
  llm_param_seg all = {0, K, 1};
  llm_adamw_step(&OPT, 3, qp, qg, qm, qv, &all, 1, NULL);
  int same = 1;
  for (int i = 0; i < K; i++) same &= qp[i] == q0[i] * f;
  CHECK(same);
  /* weight_decay 0: no multiply at all, even in decay segments */
  llm_adamw o = OPT;
  o.weight_decay = 0;
  float q[1] = {1.2345678f}, z[1] = {0}, zm[1] = {0}, zv[1] = {0};
  llm_param_seg s1 = {0, 1, 1};
  llm_adamw_step(&o, 1, q, z, zm, zv, &s1, 1, NULL);
  CHECK(q[0] == 1.2345678f);
}

/* The pool splits elements; results must be bitwise the same for every
** thread count, and the same as without a pool. */
static void test_adamw_threads(void) {
  static state base, s;
  llm_rng r;
  float g[N];
  init_state(&base, 5);
  llm_rng_seed(&r, 6);
  for (int64_t t = 1; t <= 20; t++) {
    random_grads(&r, g);
    llm_adamw_step(&OPT, t, base.p, g, base.m, base.v, SEGS, N_SEGS, NULL);
  }
  for (int nt = 1; nt <= 5; nt++) {
    llm_pool *pool = NULL;
    llm_err err;
    CHECK(llm_pool_new(nt, &pool, &err) == LLM_OK);
    init_state(&s, 5);
    llm_rng_seed(&r, 6);
    for (int64_t t = 1; t <= 20; t++) {
      random_grads(&r, g);
      llm_adamw_step(&OPT, t, s.p, g, s.m, s.v, SEGS, N_SEGS, pool);
    }
    CHECK(memcmp(&s, &base, sizeof s) == 0);
    llm_pool_free(pool);
  }
}

static void test_adamw_edge_steps(void) {
  /* t < 1 is treated as the first step rather than dividing by zero. */
  float p0[2] = {1, 2}, p1[2] = {1, 2}, g[2] = {0.5f, -0.5f};
  float m0[2] = {0}, v0[2] = {0}, m1[2] = {0}, v1[2] = {0};
  llm_param_seg seg = {0, 2, 1};
  llm_adamw_step(&OPT, 0, p0, g, m0, v0, &seg, 1, NULL);
  llm_adamw_step(&OPT, 1, p1, g, m1, v1, &seg, 1, NULL);
  CHECK(memcmp(p0, p1, sizeof p0) == 0 && isfinite(p0[0]));
  llm_adamw_step(&OPT, -5, p0, g, m0, v0, &seg, 1, NULL);
  CHECK(isfinite(p0[0]) && isfinite(p0[1]));
  /* No segments: nothing happens. */
  float keep[2] = {p1[0], p1[1]};
  llm_adamw_step(&OPT, 3, p1, g, m1, v1, NULL, 0, NULL);
  CHECK(memcmp(keep, p1, sizeof keep) == 0);
  /* A huge step number: the bias corrections tend to 1. */
  float p2[1] = {1}, m2[1] = {0}, v2[1] = {0};
  llm_param_seg one = {0, 1, 1};
  llm_adamw_step(&OPT, INT64_MAX, p2, g, m2, v2, &one, 1, NULL);
  CHECK(isfinite(p2[0]));
}

/* ---- Clipping ------------------------------------------------------- */

#define G 10007

static double ref_norm(const float *g, size_t n) {
  long double s = 0;
  for (size_t i = 0; i < n; i++) s += (long double)g[i] * g[i];
  return (double)sqrtl(s);
}

static void fill(float *g, size_t n, uint64_t seed) {
  llm_rng r;
  llm_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++)
    g[i] = (float)(llm_rng_normal(&r) * (i % 5 == 0 ? 100.0 : 0.01));
}

static void test_clip_norm(void) {
  static float g[G], orig[G];
  fill(orig, G, 7);
  double want = ref_norm(orig, G);
  for (int nt = 0; nt <= 8; nt++) {
    llm_pool *pool = NULL;
    llm_err err;
    if (nt) CHECK(llm_pool_new(nt, &pool, &err) == LLM_OK);
    /* below the threshold, and exactly at it: untouched */
    memcpy(g, orig, sizeof g);
    float n1 = llm_clip_grad_norm(g, G, (float)(want * 2), pool);
    CHECK(fabs(n1 - want) <= 1e-6 * want);
    CHECK(memcmp(g, orig, sizeof g) == 0);
    CHECK(llm_clip_grad_norm(g, G, n1, pool) == n1);
    CHECK(memcmp(g, orig, sizeof g) == 0);
    /* max_norm <= 0: never clips */
    CHECK(llm_clip_grad_norm(g, G, 0, pool) == n1);
    CHECK(llm_clip_grad_norm(g, G, -1, pool) == n1);
    CHECK(memcmp(g, orig, sizeof g) == 0);
    /* the same thread count gives the same bits every time */
    float again = llm_clip_grad_norm(g, G, 0, pool);
    CHECK(memcmp(&again, &n1, sizeof n1) == 0);
    /* above: scaled by max_norm / norm, leaving a norm of max_norm */
    float max_norm = (float)(want / 3);
    float n2 = llm_clip_grad_norm(g, G, max_norm, pool);
    CHECK(n2 == n1);
    double scale = max_norm / want;
    int ok = 1;
    for (size_t i = 0; i < G; i++)
      ok &= fabs(g[i] - orig[i] * scale) <= 1e-6 * fabs(orig[i] * scale);
    CHECK(ok);
    CHECK(fabs(ref_norm(g, G) - max_norm) <= 1e-5 * max_norm);
    llm_pool_free(pool);
  }
  /* empty input */
  CHECK(llm_clip_grad_norm(g, 0, 1.0f, NULL) == 0.0f);
  /* fewer items than threads */
  llm_pool *pool = NULL;
  llm_err err;
  CHECK(llm_pool_new(8, &pool, &err) == LLM_OK);
  float three[3] = {3, 4, 12};
  CHECK(llm_clip_grad_norm(three, 3, 100, pool) == 13.0f);
  CHECK(llm_clip_grad_norm(three, 3, 6.5f, pool) == 13.0f);
  CHECK(three[0] == 1.5f && three[1] == 2.0f && three[2] == 6.0f);
  llm_pool_free(pool);
}

static void test_clip_nonfinite(void) {
  float g[4] = {1, INFINITY, 2, 3};
  float n = llm_clip_grad_norm(g, 4, 1.0f, NULL);
  CHECK(isinf(n));
  CHECK(g[0] == 1 && isinf(g[1]) && g[2] == 2);
  float h[3] = {1, NAN, 2};
  n = llm_clip_grad_norm(h, 3, 1.0f, NULL);
  CHECK(isnan(n));
  CHECK(h[0] == 1 && h[2] == 2);
  /* Squares overflow float but not the double sum. */
  float big[2] = {3e30f, 4e30f};
  n = llm_clip_grad_norm(big, 2, 1.0f, NULL);
  CHECK(fabs(n - 5e30) <= 1e-6 * 5e30);
  CHECK(fabs(big[0] - 0.6f) < 1e-6 && fabs(big[1] - 0.8f) < 1e-6);
}

/* ---- Schedule ------------------------------------------------------- */

/* nanoGPT's get_lr, with the warm-up of optim.h: lr * (it + 1) / warmup. */
static double nanogpt_lr(int64_t it, int64_t warmup, int64_t total, double lr,
                         double min_lr) {
  if (it < warmup) return lr * (double)(it + 1) / (double)warmup;
  if (it > total) return min_lr;
  double ratio = (double)(it - warmup) / (double)(total - warmup);
  double coeff = 0.5 * (1.0 + cos(3.14159265358979323846 * ratio));
  return min_lr + coeff * (lr - min_lr);
}

static int close_to(float got, double want) {
  int ok = fabs(got - want) <= 1e-6 * fabs(want) + 1e-12;
  if (!ok) printf("  got %.9g, want %.9g\n", got, want);
  return ok;
}

static void test_schedule(void) {
  const float lr = 6e-4f, min_lr = 6e-5f;
  const int64_t W = 100, T = 5000;
  const int64_t steps[] = {0, 1, W - 1, W, W + 1, (W + T) / 2, T - 1, T,
                           T + 1, 10 * T};
  for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
    int64_t s = steps[k];
    CHECK(close_to(llm_lr_schedule(s, W, T, lr, min_lr),
                   nanogpt_lr(s, W, T, lr, min_lr)));
  }
  /* The named points. */
  CHECK(close_to(llm_lr_schedule(0, W, T, lr, min_lr), lr / 100.0));
  CHECK(close_to(llm_lr_schedule(W - 1, W, T, lr, min_lr), lr));
  CHECK(close_to(llm_lr_schedule(W, W, T, lr, min_lr), lr));
  CHECK(close_to(llm_lr_schedule((W + T) / 2, W, T, lr, min_lr),
                 (lr + (double)min_lr) / 2));
  CHECK(llm_lr_schedule(T, W, T, lr, min_lr) == min_lr);
  CHECK(llm_lr_schedule(T + 123, W, T, lr, min_lr) == min_lr);
  CHECK(llm_lr_schedule(INT64_MAX, W, T, lr, min_lr) == min_lr);
  /* Every step of the run: rises, then never rises again. */
  int ok = 1;
  float prev = 0;
  for (int64_t s = 0; s <= T + 10; s++) {
    float x = llm_lr_schedule(s, W, T, lr, min_lr);
    ok &= isfinite(x) && x > 0 && x <= lr * 1.0001f;
    if (s >= W) ok &= x >= min_lr * 0.9999f; /* warm-up starts below it */
    if (s > 0 && s < W) ok &= x > prev;
    if (s > W) ok &= x <= prev;
    ok &= close_to(x, nanogpt_lr(s, W, T, lr, min_lr));
    prev = x;
  }
  CHECK(ok);
}

static void test_schedule_edges(void) {
  const float lr = 1e-3f, min_lr = 1e-4f;
  /* No warm-up: step 0 is already the peak. */
  CHECK(close_to(llm_lr_schedule(0, 0, 100, lr, min_lr), lr));
  CHECK(close_to(llm_lr_schedule(50, 0, 100, lr, min_lr),
                 nanogpt_lr(50, 0, 100, lr, min_lr)));
  CHECK(llm_lr_schedule(100, 0, 100, lr, min_lr) == min_lr);
  /* total <= warmup: warm-up, then min_lr, never a division by zero. */
  for (int64_t total = 0; total <= 10; total++) {
    int ok = 1;
    for (int64_t s = 0; s < 15; s++) {
      float x = llm_lr_schedule(s, 10, total, lr, min_lr);
      ok &= isfinite(x);
      if (s < 10) ok &= close_to(x, lr * (double)(s + 1) / 10);
      else ok &= x == min_lr;
    }
    CHECK(ok);
  }
  /* Everything zero. */
  CHECK(llm_lr_schedule(0, 0, 0, lr, min_lr) == min_lr);
  /* Negative step or warm-up count as 0. */
  CHECK(llm_lr_schedule(-3, 10, 100, lr, min_lr) ==
        llm_lr_schedule(0, 10, 100, lr, min_lr));
  CHECK(llm_lr_schedule(5, -1, 100, lr, min_lr) ==
        llm_lr_schedule(5, 0, 100, lr, min_lr));
  /* min_lr above lr (an odd but harmless choice) still interpolates. */
  CHECK(close_to(llm_lr_schedule(50, 0, 100, 1e-4f, 1e-3f),
                 nanogpt_lr(50, 0, 100, 1e-4f, 1e-3f)));
}

int main(void) {
  RUN(test_adamw_vs_reference);
  RUN(test_adamw_trajectory);
  RUN(test_adamw_first_step);
  RUN(test_adamw_decay_order);
  RUN(test_adamw_threads);
  RUN(test_adamw_edge_steps);
  RUN(test_clip_norm);
  RUN(test_clip_nonfinite);
  RUN(test_schedule);
  RUN(test_schedule_edges);
  return CHECK_DONE();
}
