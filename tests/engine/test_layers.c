/*
** test_layers.c: each layer of layers.h against a naive double-precision
** reference written here: the forward output directly, and the backward's
** gradients against central finite differences of the reference.
**
** Every gradient is that of J = sum(out * R) for a fixed random R (so dout
** = R), except the cross-entropy, whose J is the loss itself. Errors are
** measured relative to the largest reference value of the array:
**   err = max |float - ref| / max(max |ref|, 1e-6)
** and must stay below FWD_TOL (forward) and GRAD_TOL (gradients). Float
** rounding over these small sums gives up to ~2e-6; the differences, with step
** 1e-4 on a double reference, are exact to ~1e-9.
**
** The Llama block's layers (RMSNorm, rotary embeddings, SwiGLU) and
** grouped-query attention are checked the same way.
**
** Each case runs on every SIMD path, inline and on a 2-thread pool, and
** uses row lengths that are not multiples of the vector width. Attention
** also runs with T above its 64-row block, so the causal block skipping is
** covered.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layers.h"
#include "rng.h"
#include "kernels/vec.h"
#include "check.h"

#define FWD_TOL 5e-6
#define GRAD_TOL 2e-5
#define FD_STEP 1e-4

static llm_rng rng;
static llm_pool *pool2;

/* The runs of each case: every SIMD level this CPU has, inline and on
** the pool. */
static int n_runs(void) { return 2 * (llm_simd_best() + 1); }
static llm_exec run_exec(int i) {
  llm_exec x = {i % 2 ? pool2 : NULL, i / 2};
  return x;
}

static float *randf(size_t n, float scale) {
  float *x = malloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++) x[i] = scale * llm_rng_normal(&rng);
  return x;
}

static double *to_double(const float *x, size_t n) {
  double *d = malloc(n * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

static double max_abs(const double *x, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
  return m;
}

/* err as defined at the top; prints it when above tol. */
static int close_to(const char *what, const float *a, const double *ref,
                    size_t n, double tol) {
  double d = 0, scale = max_abs(ref, n);
  for (size_t i = 0; i < n; i++) {
    double e = fabs(a[i] - ref[i]);
    d = e > d ? e : d;
  }
  double err = d / (scale > 1e-6 ? scale : 1e-6);
  if (!(err < tol))
    printf("  %s: err %.3g (max |ref| %.3g)\n", what, err, scale);
  return err < tol;
}

/* The objective of a case: evaluated by its double reference. */
typedef double (*objective)(void *ctx);

/* Central differences of f with respect to every element of x (the double
** copy of an input the objective reads), compared with grad. */
/* Central differences of f with respect to each of x[0..n) (malloc'd). */
static double *numeric_grad(objective f, void *ctx, double *x, size_t n) {
  double *num = malloc(n * sizeof *num);
  for (size_t i = 0; i < n; i++) {
    double keep = x[i];
    x[i] = keep + FD_STEP;
    double fp = f(ctx);
    x[i] = keep - FD_STEP;
    double fm = f(ctx);
    x[i] = keep;
    num[i] = (fp - fm) / (2 * FD_STEP);
  }
  return num;
}

static int grad_ok(const char *what, objective f, void *ctx, double *x,
                   const float *grad, size_t n) {
  double *num = numeric_grad(f, ctx, x, n);
  int ok = close_to(what, grad, num, n, GRAD_TOL);
  free(num);
  return ok;
}

static double dot_out(const double *out, const double *r, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += out[i] * r[i];
  return s;
}

/* ---------------------------------------------------------------------- */
/* Encoder                                                                 */

typedef struct enc_case {
  int B, T, C, V;
  int32_t *ids;
  double *wte, *wpe, *r, *out;
} enc_case;

static void enc_ref(enc_case *e) {
  for (int bt = 0; bt < e->B * e->T; bt++)
    for (int c = 0; c < e->C; c++)
      e->out[bt * e->C + c] =
          e->wte[e->ids[bt] * e->C + c] + e->wpe[(bt % e->T) * e->C + c];
}

static double enc_obj(void *p) {
  enc_case *e = p;
  enc_ref(e);
  return dot_out(e->out, e->r, (size_t)e->B * e->T * e->C);
}

static void test_encoder(void) {
  enc_case e = {.B = 3, .T = 5, .C = 19, .V = 4};
  int maxT = 7;
  size_t N = (size_t)e.B * e.T, NC = N * e.C;
  e.ids = malloc(N * sizeof *e.ids);
  for (size_t i = 0; i < N; i++) e.ids[i] = (int32_t)llm_rng_below(&rng, 4);
  float *wte = randf((size_t)e.V * e.C, 1), *wpe = randf((size_t)maxT * e.C, 1);
  float *r = randf(NC, 1);
  e.wte = to_double(wte, (size_t)e.V * e.C);
  e.wpe = to_double(wpe, (size_t)maxT * e.C);
  e.r = to_double(r, NC);
  e.out = malloc(NC * sizeof *e.out);
  float *out = malloc(NC * sizeof *out);
  float *dwte = malloc((size_t)e.V * e.C * sizeof *dwte);
  float *dwpe = malloc((size_t)maxT * e.C * sizeof *dwpe);
  for (int run = 0; run < n_runs(); run++) {
    llm_exec x = run_exec(run);
    llm_encoder_forward(&x, out, e.ids, wte, wpe, e.B, e.T, e.C);
    enc_ref(&e);
    CHECK(close_to("encoder out", out, e.out, NC, FWD_TOL));
    /* dwte accumulates: start it at 1 and take the 1 off again. */
    for (int i = 0; i < e.V * e.C; i++) dwte[i] = 1;
    for (int i = 0; i < maxT * e.C; i++) dwpe[i] = 7;
    llm_encoder_backward(&x, dwte, dwpe, r, e.ids, e.B, e.T, e.C);
    for (int i = 0; i < e.V * e.C; i++) dwte[i] -= 1;
    CHECK(grad_ok("encoder dwte", enc_obj, &e, e.wte, dwte, (size_t)e.V * e.C));
    CHECK(grad_ok("encoder dwpe", enc_obj, &e, e.wpe, dwpe, (size_t)e.T * e.C));
    /* rows past T are left alone */
    CHECK(dwpe[e.T * e.C] == 7 && dwpe[maxT * e.C - 1] == 7);
  }
  free(e.ids), free(wte), free(wpe), free(r), free(e.wte), free(e.wpe);
  free(e.r), free(e.out), free(out), free(dwte), free(dwpe);
}

/* ---------------------------------------------------------------------- */
/* LayerNorm                                                               */

typedef struct ln_case {
  size_t N;
  int C;
  double eps;
  double *inp, *w, *b, *r, *out;
} ln_case;

static void ln_ref(ln_case *l) {
  for (size_t n = 0; n < l->N; n++) {
    const double *x = l->inp + n * l->C;
    double m = 0, v = 0;
    for (int c = 0; c < l->C; c++) m += x[c];
    m /= l->C;
    for (int c = 0; c < l->C; c++) v += (x[c] - m) * (x[c] - m);
    v /= l->C;
    for (int c = 0; c < l->C; c++)
      l->out[n * l->C + c] = (x[c] - m) / sqrt(v + l->eps) * l->w[c] + l->b[c];
  }
}

static double ln_obj(void *p) {
  ln_case *l = p;
  ln_ref(l);
  return dot_out(l->out, l->r, l->N * l->C);
}

static void ln_one(size_t N, int C) {
  ln_case l = {.N = N, .C = C, .eps = 1e-5};
  size_t NC = N * C;
  float *inp = randf(NC, 1), *w = randf(C, 1), *b = randf(C, 1);
  float *r = randf(NC, 1);
  for (size_t i = 0; i < NC; i++) inp[i] += 3; /* a mean far from 0 */
  l.inp = to_double(inp, NC), l.w = to_double(w, C), l.b = to_double(b, C);
  l.r = to_double(r, NC);
  l.out = malloc(NC * sizeof *l.out);
  float *out = malloc(NC * sizeof *out), *mean = malloc(N * sizeof *mean);
  float *rstd = malloc(N * sizeof *rstd), *dinp = malloc(NC * sizeof *dinp);
  float *dw = malloc(C * sizeof *dw), *db = malloc(C * sizeof *db);
  for (int run = 0; run < n_runs(); run++) {
    llm_exec x = run_exec(run);
    llm_layernorm_forward(&x, out, mean, rstd, inp, w, b, N, C, 1e-5f);
    ln_ref(&l);
    CHECK(close_to("layernorm out", out, l.out, NC, FWD_TOL));
    for (size_t i = 0; i < NC; i++) dinp[i] = 0.5f; /* dinp accumulates */
    llm_layernorm_backward(&x, dinp, dw, db, r, inp, mean, rstd, w, N, C);
    for (size_t i = 0; i < NC; i++) dinp[i] -= 0.5f;
    CHECK(grad_ok("layernorm dinp", ln_obj, &l, l.inp, dinp, NC));
    CHECK(grad_ok("layernorm dw", ln_obj, &l, l.w, dw, C));
    CHECK(grad_ok("layernorm db", ln_obj, &l, l.b, db, C));
  }
  free(inp), free(w), free(b), free(r), free(l.inp), free(l.w), free(l.b);
  free(l.r), free(l.out), free(out), free(mean), free(rstd), free(dinp);
  free(dw), free(db);
}

static void test_layernorm(void) {
  ln_one(9, 19);
  ln_one(4, 64);
  ln_one(3, 3);
}

/* ---------------------------------------------------------------------- */
/* Linear layer, with and without bias, and the residual add               */

typedef struct mm_case {
  size_t N;
  int IN, OUT;
  double *inp, *w, *bias, *res, *r, *out;
} mm_case;

static void mm_ref(mm_case *m) {
  for (size_t n = 0; n < m->N; n++)
    for (int o = 0; o < m->OUT; o++) {
      double s =
          (m->bias ? m->bias[o] : 0) + (m->res ? m->res[n * m->OUT + o] : 0);
      for (int i = 0; i < m->IN; i++)
        s += m->inp[n * m->IN + i] * m->w[o * m->IN + i];
      m->out[n * m->OUT + o] = s;
    }
}

static double mm_obj(void *p) {
  mm_case *m = p;
  mm_ref(m);
  return dot_out(m->out, m->r, m->N * m->OUT);
}

/* with_res: 0 none, 1 a separate residual, 2 the residual in out. */
static void mm_one(size_t N, int IN, int OUT, int with_bias, int with_res) {
  mm_case m = {.N = N, .IN = IN, .OUT = OUT};
  size_t NI = N * IN, NO = N * OUT, OI = (size_t)OUT * IN;
  float *inp = randf(NI, 1), *w = randf(OI, 1), *bias = randf(OUT, 1);
  float *res = randf(NO, 1), *r = randf(NO, 1);
  m.inp = to_double(inp, NI), m.w = to_double(w, OI);
  m.bias = with_bias ? to_double(bias, OUT) : NULL;
  m.res = with_res ? to_double(res, NO) : NULL;
  m.r = to_double(r, NO);
  m.out = malloc(NO * sizeof *m.out);
  float *out = malloc(NO * sizeof *out), *dinp = malloc(NI * sizeof *dinp);
  float *dw = malloc(OI * sizeof *dw), *db = malloc(OUT * sizeof *db);
  for (int run = 0; run < n_runs(); run++) {
    llm_exec x = run_exec(run);
    if (with_res == 2) memcpy(out, res, NO * sizeof *out);
    const float *rp = with_res == 1 ? res : with_res == 2 ? out : NULL;
    llm_matmul_forward(&x, out, inp, w, with_bias ? bias : NULL, rp, N, IN,
                       OUT);
    mm_ref(&m);
    CHECK(close_to("matmul out", out, m.out, NO, FWD_TOL));
    llm_matmul_backward(&x, dinp, dw, with_bias ? db : NULL, r, inp, w, N, IN,
                        OUT);
    CHECK(grad_ok("matmul dinp", mm_obj, &m, m.inp, dinp, NI));
    CHECK(grad_ok("matmul dw", mm_obj, &m, m.w, dw, OI));
    if (with_bias) CHECK(grad_ok("matmul dbias", mm_obj, &m, m.bias, db, OUT));
    /* The residual's gradient is dout itself: the model relies on that. */
    if (with_res) CHECK(grad_ok("residual dres", mm_obj, &m, m.res, r, NO));
  }
  free(inp), free(w), free(bias), free(res), free(r), free(m.inp), free(m.w);
  free(m.bias), free(m.res), free(m.r), free(m.out), free(out), free(dinp);
  free(dw), free(db);
}

static void test_matmul(void) {
  mm_one(7, 13, 11, 1, 0);
  mm_one(10, 16, 24, 0, 0);
  mm_one(1, 5, 3, 1, 0);
  mm_one(1100, 3, 5, 1, 0); /* dbias sums rows 512 at a time */
}

static void test_residual(void) {
  mm_one(6, 9, 10, 1, 1);
  mm_one(6, 9, 10, 1, 2);
  mm_one(5, 8, 8, 0, 2);
}

/* ---------------------------------------------------------------------- */
/* Attention                                                               */

typedef struct att_case {
  int B, T, C, NH, NKV, HS, window; /* C: the output width NH HS */
  double scale;
  double *qkv, *r, *out;
} att_case;

static void att_ref(att_case *a) {
  int T = a->T, C = a->C, HS = a->HS, KV = HS * a->NKV, Q = C + 2 * KV;
  int group = a->NH / a->NKV;
  double *s = malloc((size_t)T * sizeof *s);
  for (int b = 0; b < a->B; b++)
    for (int h = 0; h < a->NH; h++)
      for (int i = 0; i < T; i++) {
        const double *q = a->qkv + ((size_t)b * T + i) * Q + h * HS;
        int kh = h / group, j0 = a->window && i >= a->window ? i - a->window + 1 : 0;
        double m = -INFINITY, z = 0;
        for (int j = j0; j <= i; j++) {
          const double *k = a->qkv + ((size_t)b * T + j) * Q + C + kh * HS;
          double d = 0;
          for (int e = 0; e < HS; e++) d += q[e] * k[e];
          s[j] = d * a->scale;
          m = s[j] > m ? s[j] : m;
        }
        for (int j = j0; j <= i; j++) z += s[j] = exp(s[j] - m);
        double *o = a->out + ((size_t)b * T + i) * C + h * HS;
        for (int e = 0; e < HS; e++) {
          double y = 0;
          for (int j = j0; j <= i; j++)
            y += s[j] / z * a->qkv[((size_t)b * T + j) * Q + C + KV + kh * HS + e];
          o[e] = y;
        }
      }
  free(s);
}

static double att_obj(void *p) {
  att_case *a = p;
  att_ref(a);
  return dot_out(a->out, a->r, (size_t)a->B * a->T * a->C);
}

/* B sequences of T, NH query heads of HS (NKV key/value heads), scores
** scaled by 1/sqrt(HS) times scale_mul, in a window (0: none). */
static void att_case_run(int B, int T, int HS, int NH, int NKV, double scale_mul, int window) {
  int C = NH * HS;
  att_case a = {.B = B, .T = T, .C = C, .NH = NH, .NKV = NKV, .HS = HS, .window = window,
                .scale = (float)(scale_mul / sqrt(HS))};
  llm_att_shape shape = {NH, NKV, HS, (float)a.scale, window};
  size_t N = (size_t)B * T, nq = N * (size_t)(C + 2 * HS * NKV), NC = N * C;
  float *qkv = randf(nq, 1), *r = randf(NC, 1);
  a.qkv = to_double(qkv, nq), a.r = to_double(r, NC);
  a.out = malloc(NC * sizeof *a.out);
  float *out = malloc(NC * sizeof *out);
  float *att = malloc((size_t)B * NH * T * T * sizeof *att);
  float *dqkv = malloc(nq * sizeof *dqkv);
  float *scratch = malloc(llm_attention_scratch(T, HS, 2) * sizeof *scratch);
  /* the long sequences make differences costly: once, for every run */
  double *num = numeric_grad(att_obj, &a, a.qkv, nq);
  att_ref(&a);
  for (int run = 0; run < n_runs(); run++) {
    llm_exec x = run_exec(run);
    llm_attention_forward(&x, out, att, scratch, qkv, B, T, &shape);
    CHECK(close_to("attention out", out, a.out, NC, FWD_TOL));
    int masked_zero = 1; /* the backward relies on it */
    for (size_t bh = 0; bh < (size_t)B * NH; bh++)
      for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++)
          if (j > i || (window && j <= i - window)) masked_zero &= att[(bh * T + i) * T + j] == 0;
    CHECK(masked_zero);
    llm_attention_backward(&x, dqkv, scratch, r, qkv, att, B, T, &shape);
    CHECK(close_to("attention dqkv", dqkv, num, nq, GRAD_TOL));
  }
  free(num);
  free(qkv), free(r), free(a.qkv), free(a.r), free(a.out), free(out);
  free(att), free(dqkv), free(scratch);
}

static void att_one(int B, int T, int C, int NH, int NKV) { att_case_run(B, T, C / NH, NH, NKV, 1, 0); }

static void test_attention(void) {
  /* Head sizes 4 (the portable kernels only), 8 (one 8-wide SIMD column),
  ** 24 (a 16-wide one and an 8-wide one) and 32; attention.c takes rows in
  ** blocks of LLM_ATT_ROWS (6), so T = 1, 5, 6, 13, 20 and 140 end in a
  ** whole or a partial block, and 20 and 140 cross the kernels' 16-wide
  ** score tiles. */
  att_one(2, 5, 12, 3, 3);
  att_one(3, 1, 8, 2, 2);
  att_one(1, 140, 8, 2, 2);
  att_one(2, 6, 16, 2, 2);
  att_one(1, 20, 48, 2, 2);
  att_one(1, 13, 64, 2, 2);
  /* grouped-query attention: heads sharing keys and values */
  att_one(2, 6, 12, 6, 2);
  att_one(1, 140, 16, 4, 1);
  att_one(1, 20, 96, 4, 2);
}

/* Gemma's and Qwen3's shapes: heads wider or narrower than C / NH is not a
** question here (the output is NH HS wide), but another scale and a
** sliding window are: windows of 1, 3 and 7 keys, over whole and partial
** row blocks. */
static void test_attention_window(void) {
  att_case_run(2, 13, 8, 4, 2, 1.7, 3);
  att_case_run(1, 20, 24, 2, 1, 0.5, 7);
  att_case_run(1, 9, 4, 2, 2, 1, 1);
  att_case_run(2, 6, 8, 2, 2, 1, 6); /* a window as long as the text: no effect */
}

/* ---------------------------------------------------------------------- */
/* GELU                                                                    */

typedef struct gelu_case {
  size_t n;
  double *inp, *r, *out;
} gelu_case;

static double gelu_obj(void *p) {
  gelu_case *g = p;
  for (size_t i = 0; i < g->n; i++) {
    double x = g->inp[i];
    double u = sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
    g->out[i] = 0.5 * x * (1 + tanh(u));
  }
  return dot_out(g->out, g->r, g->n);
}

static void test_gelu(void) {
  gelu_case g = {.n = 203};
  float *inp = randf(g.n, 2.5f), *r = randf(g.n, 1);
  inp[0] = 0, inp[1] = -12, inp[2] = 12, inp[3] = -40, inp[4] = 1e-3f;
  g.inp = to_double(inp, g.n), g.r = to_double(r, g.n);
  g.out = malloc(g.n * sizeof *g.out);
  float *out = malloc(g.n * sizeof *out), *d = malloc(g.n * sizeof *d);
  for (int run = 0; run < n_runs(); run++) {
    llm_exec x = run_exec(run);
    llm_gelu_forward(&x, out, inp, g.n);
    gelu_obj(&g);
    CHECK(close_to("gelu out", out, g.out, g.n, FWD_TOL));
    memcpy(d, r, g.n * sizeof *d); /* in place, as the model runs it */
    llm_gelu_backward(&x, d, inp, d, g.n);
    CHECK(grad_ok("gelu dinp", gelu_obj, &g, g.inp, d, g.n));
  }
  free(inp), free(r), free(g.inp), free(g.r), free(g.out), free(out), free(d);
}

/* ---------------------------------------------------------------------- */
/* The Llama layers: RMSNorm, rotary embeddings, SwiGLU                    */

typedef struct rms_case {
  size_t N;
  int C;
  double *inp, *w, *r, *out;
} rms_case;

static double rms_obj(void *p) {
  rms_case *c = p;
  for (size_t n = 0; n < c->N; n++) {
    double ss = 0;
    for (int i = 0; i < c->C; i++) ss += c->inp[n * c->C + i] * c->inp[n * c->C + i];
    double rs = 1 / sqrt(ss / c->C + 1e-5);
    for (int i = 0; i < c->C; i++) c->out[n * c->C + i] = c->inp[n * c->C + i] * rs * c->w[i];
  }
  return dot_out(c->out, c->r, c->N * c->C);
}

static void test_rmsnorm(void) {
  rms_case c = {.N = 7, .C = 19};
  size_t n = c.N * c.C;
  float *inp = randf(n, 2), *w = randf(c.C, 1), *r = randf(n, 1);
  c.inp = to_double(inp, n), c.w = to_double(w, c.C), c.r = to_double(r, n);
  c.out = malloc(n * sizeof *c.out);
  float *out = malloc(n * sizeof *out), *rstd = malloc(c.N * sizeof *rstd);
  float *dinp = malloc(n * sizeof *dinp), *dw = malloc(c.C * sizeof *dw);
  for (int run = 0; run < n_runs(); run++) {
    llm_exec x = run_exec(run);
    llm_rmsnorm_forward(&x, out, rstd, inp, w, c.N, c.C, 1e-5f);
    rms_obj(&c);
    CHECK(close_to("rmsnorm out", out, c.out, n, FWD_TOL));
    for (size_t i = 0; i < n; i++) dinp[i] = 0.5f; /* it adds */
    llm_rmsnorm_backward(&x, dinp, dw, r, inp, rstd, w, c.N, c.C);
    for (size_t i = 0; i < n; i++) dinp[i] -= 0.5f;
    CHECK(grad_ok("rmsnorm dinp", rms_obj, &c, c.inp, dinp, n));
    CHECK(grad_ok("rmsnorm dw", rms_obj, &c, c.w, dw, (size_t)c.C));
  }
  free(inp), free(w), free(r), free(c.inp), free(c.w), free(c.r), free(c.out);
  free(out), free(rstd), free(dinp), free(dw);
}

typedef struct rope_case {
  size_t N, ld;
  int T, pos0, heads, HS, n_rot, halves;
  double theta, scale;
  const float *factors;
  double *inp, *r, *out;
} rope_case;

static double rope_obj(void *p) {
  rope_case *c = p;
  int half = c->n_rot / 2;
  for (size_t n = 0; n < c->N; n++) {
    const double *in = c->inp + n * c->ld;
    double *o = c->out + n * c->ld;
    double pos = (c->pos0 + (double)(n % (size_t)c->T)) / c->scale;
    for (size_t i = 0; i < c->ld; i++) o[i] = in[i];
    for (int h = 0; h < c->heads; h++)
      for (int j = 0; j < half; j++) {
        int i0 = h * c->HS + (c->halves ? j : 2 * j), i1 = h * c->HS + (c->halves ? j + half : 2 * j + 1);
        double a = pos * pow(c->theta, -2.0 * j / c->n_rot) / (c->factors ? c->factors[j] : 1.0);
        o[i0] = in[i0] * cos(a) - in[i1] * sin(a);
        o[i1] = in[i0] * sin(a) + in[i1] * cos(a);
      }
  }
  return dot_out(c->out, c->r, c->N * c->ld);
}

static void rope_case_run(rope_case c) {
  size_t n = c.N * c.ld;
  int P = c.pos0 + c.T;
  float *inp = randf(n, 1), *r = randf(n, 1), *out = malloc(n * sizeof *out);
  float *table = malloc((size_t)P * c.n_rot * sizeof *table);
  llm_rope_table(table, P, c.n_rot, (float)c.theta, (float)c.scale, c.factors);
  llm_rope_shape shape = {c.heads, c.HS, c.n_rot, c.halves};
  c.inp = to_double(inp, n), c.r = to_double(r, n);
  c.out = malloc(n * sizeof *c.out);
  for (int run = 0; run < n_runs(); run++) {
    llm_exec x = run_exec(run);
    memcpy(out, inp, n * sizeof *out);
    llm_rope_forward(&x, out, table, c.N, c.T, c.pos0, c.ld, &shape);
    rope_obj(&c);
    CHECK(close_to("rope out", out, c.out, n, FWD_TOL));
    memcpy(out, r, n * sizeof *out);
    llm_rope_backward(&x, out, table, c.N, c.T, c.pos0, c.ld, &shape);
    CHECK(grad_ok("rope dinp", rope_obj, &c, c.inp, out, n));
  }
  free(inp), free(r), free(out), free(table), free(c.inp), free(c.r), free(c.out);
}

/* Rows of NH + 2 NKV heads of C / NH, the first NH + NKV turned. */
static void rope_one(size_t N, int T, int pos0, int C, int NH, int NKV) {
  int HS = C / NH;
  rope_case_run((rope_case){.N = N, .ld = (size_t)(C + 2 * HS * NKV), .T = T, .pos0 = pos0, .heads = NH + NKV,
                            .HS = HS, .n_rot = HS, .theta = 10000, .scale = 1});
}

static void test_rope(void) {
  rope_one(6, 3, 0, 12, 2, 2);  /* two sequences of 3 */
  rope_one(5, 5, 0, 16, 4, 2);  /* grouped: fewer key heads */
  rope_one(4, 4, 9, 8, 2, 1);   /* positions from 9, as in inference */
  /* halves (NeoX), part of a head turned, another base, linear scaling,
  ** frequency factors (Llama 3) */
  static const float factors[4] = {1, 1.5f, 4, 8};
  rope_case_run((rope_case){.N = 6, .ld = 40, .T = 3, .heads = 3, .HS = 8, .n_rot = 8, .halves = 1,
                            .theta = 1e6, .scale = 1});
  rope_case_run((rope_case){.N = 5, .ld = 24, .T = 5, .pos0 = 2, .heads = 2, .HS = 12, .n_rot = 8, .halves = 1,
                            .theta = 10000, .scale = 4});
  rope_case_run((rope_case){.N = 4, .ld = 32, .T = 4, .heads = 3, .HS = 8, .n_rot = 8, .theta = 500000,
                            .scale = 1, .factors = factors});
}

/* ---- per-head norms ---- */

typedef struct headnorm_case {
  size_t N, ld;
  int NH, NKV, HS;
  double *inp, *wq, *wk, *r, *out;
} headnorm_case;

static double headnorm_obj(void *p) {
  headnorm_case *c = p;
  for (size_t n = 0; n < c->N; n++) {
    const double *in = c->inp + n * c->ld;
    double *o = c->out + n * c->ld;
    for (size_t i = 0; i < c->ld; i++) o[i] = in[i];
    for (int h = 0; h < c->NH + c->NKV; h++) {
      const double *w = h < c->NH ? c->wq : c->wk;
      double ss = 0;
      for (int i = 0; i < c->HS; i++) ss += in[h * c->HS + i] * in[h * c->HS + i];
      double rs = 1 / sqrt(ss / c->HS + 1e-6);
      for (int i = 0; i < c->HS; i++) o[h * c->HS + i] = in[h * c->HS + i] * rs * w[i];
    }
  }
  return dot_out(c->out, c->r, c->N * c->ld);
}

static void test_headnorm(void) {
  headnorm_case c = {.N = 7, .NH = 4, .NKV = 2, .HS = 6};
  c.ld = (size_t)(c.NH + 2 * c.NKV) * c.HS;
  size_t n = c.N * c.ld, hs = (size_t)c.HS;
  float *inp = randf(n, 2), *wq = randf(hs, 1), *wk = randf(hs, 1), *r = randf(n, 1);
  c.inp = to_double(inp, n), c.wq = to_double(wq, hs), c.wk = to_double(wk, hs), c.r = to_double(r, n);
  c.out = malloc(n * sizeof *c.out);
  float *out = malloc(n * sizeof *out), *rstd = malloc(c.N * (c.NH + c.NKV) * sizeof *rstd);
  float *dinp = malloc(n * sizeof *dinp), *dwq = malloc(hs * sizeof *dwq), *dwk = malloc(hs * sizeof *dwk);
  for (int run = 0; run < n_runs(); run++) {
    llm_exec x = run_exec(run);
    llm_headnorm_forward(&x, out, rstd, inp, wq, wk, c.N, c.ld, c.NH, c.NKV, c.HS, 1e-6f);
    headnorm_obj(&c);
    CHECK(close_to("headnorm out", out, c.out, n, FWD_TOL));
    /* in place, as the model runs it */
    memcpy(dinp, r, n * sizeof *dinp);
    llm_headnorm_backward(&x, dinp, dwq, dwk, dinp, inp, rstd, wq, wk, c.N, c.ld, c.NH, c.NKV, c.HS);
    CHECK(grad_ok("headnorm dinp", headnorm_obj, &c, c.inp, dinp, n));
    CHECK(grad_ok("headnorm dwq", headnorm_obj, &c, c.wq, dwq, hs));
    CHECK(grad_ok("headnorm dwk", headnorm_obj, &c, c.wk, dwk, hs));
  }
  free(inp), free(wq), free(wk), free(r), free(c.inp), free(c.wq), free(c.wk), free(c.r), free(c.out);
  free(out), free(rstd), free(dinp), free(dwq), free(dwk);
}

typedef struct glu_case {
  size_t N;
  int H, gelu;
  double *inp, *r, *out;
} glu_case;

static double glu_obj(void *p) {
  glu_case *c = p;
  for (size_t n = 0; n < c->N; n++)
    for (int i = 0; i < c->H; i++) {
      double g = c->inp[n * 2 * c->H + i], u = c->inp[n * 2 * c->H + c->H + i];
      double act = c->gelu ? 0.5 * g * (1 + tanh(sqrt(2 / M_PI) * (g + 0.044715 * g * g * g))) : g / (1 + exp(-g));
      c->out[n * c->H + i] = act * u;
    }
  return dot_out(c->out, c->r, c->N * c->H);
}

/* SwiGLU and GeGLU (gelu: Gemma's). */
static void glu_one(int gelu) {
  glu_case c = {.N = 5, .H = 37, .gelu = gelu};
  size_t n = c.N * 2 * c.H, no = c.N * c.H;
  float *inp = randf(n, 2.5f), *r = randf(no, 1);
  inp[0] = 0, inp[1] = -30, inp[2] = 30;
  c.inp = to_double(inp, n), c.r = to_double(r, no);
  c.out = malloc(no * sizeof *c.out);
  float *out = malloc(no * sizeof *out), *d = malloc(n * sizeof *d);
  for (int run = 0; run < n_runs(); run++) {
    llm_exec x = run_exec(run);
    (gelu ? llm_geglu_forward : llm_swiglu_forward)(&x, out, inp, c.N, c.H);
    glu_obj(&c);
    CHECK(close_to("glu out", out, c.out, no, FWD_TOL));
    (gelu ? llm_geglu_backward : llm_swiglu_backward)(&x, d, inp, r, c.N, c.H);
    CHECK(grad_ok("glu dinp", glu_obj, &c, c.inp, d, n));
  }
  free(inp), free(r), free(c.inp), free(c.r), free(c.out), free(out), free(d);
}

static void test_swiglu(void) { glu_one(0); }
static void test_geglu(void) { glu_one(1); }

/* ---------------------------------------------------------------------- */
/* Head matmul + softmax cross-entropy                                     */

typedef struct ce_case {
  size_t N;
  int C, V;
  int32_t *targets;
  double *x, *wte;
} ce_case;

static double ce_obj(void *p) {
  ce_case *e = p;
  double sum = 0, *l = malloc((size_t)e->V * sizeof *l);
  for (size_t n = 0; n < e->N; n++) {
    double m = -INFINITY, z = 0;
    for (int v = 0; v < e->V; v++) {
      double s = 0;
      for (int c = 0; c < e->C; c++)
        s += e->x[n * e->C + c] * e->wte[v * e->C + c];
      l[v] = s;
      m = s > m ? s : m;
    }
    for (int v = 0; v < e->V; v++) z += exp(l[v] - m);
    sum += m + log(z) - l[e->targets[n]];
  }
  free(l);
  return sum / (double)e->N;
}

static void ce_one(size_t N, int C, int V, float scale) {
  ce_case e = {.N = N, .C = C, .V = V};
  e.targets = malloc(N * sizeof *e.targets);
  for (size_t i = 0; i < N; i++)
    e.targets[i] = (int32_t)llm_rng_below(&rng, (uint64_t)V);
  float *xf = randf(N * C, scale), *wte = randf((size_t)V * C, scale);
  e.x = to_double(xf, N * C), e.wte = to_double(wte, (size_t)V * C);
  float *logits = malloc(N * V * sizeof *logits),
        *lse = malloc(N * sizeof *lse);
  float *losses = malloc(N * sizeof *losses), *dl = malloc(N * V * sizeof *dl);
  float *dx = malloc(N * C * sizeof *dx),
        *dwte = malloc((size_t)V * C * sizeof *dwte);
  for (int run = 0; run < n_runs(); run++) {
    llm_exec x = run_exec(run);
    llm_matmul_forward(&x, logits, xf, wte, NULL, NULL, N, C, V);
    float loss =
        llm_crossentropy_forward(&x, lse, losses, logits, e.targets, N, V);
    double ref = ce_obj(&e);
    if (!(fabs(loss - ref) < FWD_TOL * fabs(ref)))
      printf("  loss %.9g, reference %.9g\n", (double)loss, ref);
    CHECK(fabs(loss - ref) < FWD_TOL * fabs(ref));
    llm_crossentropy_backward(&x, dl, logits, lse, e.targets, N, N, V);
    llm_matmul_backward(&x, dx, dwte, NULL, dl, xf, wte, N, C, V);
    CHECK(grad_ok("crossentropy dx", ce_obj, &e, e.x, dx, N * C));
    CHECK(grad_ok("crossentropy dwte", ce_obj, &e, e.wte, dwte, (size_t)V * C));
  }
  free(e.targets), free(xf), free(wte), free(e.x), free(e.wte), free(logits);
  free(lse), free(losses), free(dl), free(dx), free(dwte);
}

static void test_crossentropy(void) {
  ce_one(6, 7, 11, 1);
  ce_one(5, 16, 37, 3); /* peaked softmax: exp's range matters */
}

int main(void) {
  llm_rng_seed(&rng, 20240607);
  llm_err err;
  if (llm_pool_new(2, &pool2, &err)) {
    printf("FAIL pool: %s\n", err.msg);
    return 1;
  }
  RUN(test_encoder);
  RUN(test_layernorm);
  RUN(test_matmul);
  RUN(test_residual);
  RUN(test_attention);
  RUN(test_attention_window);
  RUN(test_gelu);
  RUN(test_rmsnorm);
  RUN(test_rope);
  RUN(test_headnorm);
  RUN(test_swiglu);
  RUN(test_geglu);
  RUN(test_crossentropy);
  llm_pool_free(pool2);
  return CHECK_DONE();
}
