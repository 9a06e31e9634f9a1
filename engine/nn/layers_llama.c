/*
** layers_llama.c: the layers the Llama block adds (see layers.h): RMSNorm,
** rotary position embeddings and the SwiGLU activation, as forward/backward
** pairs split over the pool like those of layers.c.
*/
#include <math.h>
#include <string.h>

#include "nn/layers.h"
#include "kernels/vec.h"

/* ---------------------------------------------------------------------- */
/* RMSNorm                                                                 */

typedef struct rms_ctx {
  const llm_exec *x;
  float *out, *rstd, *dinp, *dw;
  const float *inp, *w, *dout, *crstd;
  size_t N;
  int C;
  float eps;
} rms_ctx;

static void rms_fwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const rms_ctx *c = p;
  size_t C = (size_t)c->C;
  for (size_t r = lo; r < hi; r++) {
    const float *row = c->inp + r * C;
    float ss = llm_vdot(c->x->simd, row, row, C) / (float)C;
    float rs = 1.0f / sqrtf(ss + c->eps);
    float *o = c->out + r * C;
    for (size_t i = 0; i < C; i++) o[i] = c->w[i] * (rs * row[i]);
    c->rstd[r] = rs;
  }
}

void llm_rmsnorm_forward(const llm_exec *x, float *out, float *rstd, const float *inp, const float *w,
                         size_t N, int C, float eps) {
  rms_ctx c = {.x = x, .out = out, .rstd = rstd, .inp = inp, .w = w, .N = N, .C = C, .eps = eps};
  llm_pool_for(x->pool, N, rms_fwd_rows, &c);
}

/* With n = x rstd and g = dout w: dx = rstd (g - n mean(g n)). */
static void rms_bwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const rms_ctx *c = p;
  size_t C = (size_t)c->C;
  for (size_t r = lo; r < hi; r++) {
    const float *d = c->dout + r * C, *in = c->inp + r * C;
    float rs = c->crstd[r], s = 0;
    for (size_t i = 0; i < C; i++) s += d[i] * c->w[i] * in[i];
    float a = s * rs * rs / (float)C;
    float *di = c->dinp + r * C;
    for (size_t i = 0; i < C; i++) di[i] += rs * (d[i] * c->w[i] - in[i] * a);
  }
}

static void rms_bwd_cols(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const rms_ctx *c = p;
  size_t C = (size_t)c->C;
  memset(c->dw + lo, 0, (hi - lo) * sizeof(float));
  for (size_t r = 0; r < c->N; r++) {
    const float *d = c->dout + r * C, *in = c->inp + r * C;
    for (size_t i = lo; i < hi; i++) c->dw[i] += d[i] * in[i] * c->crstd[r];
  }
}

void llm_rmsnorm_backward(const llm_exec *x, float *dinp, float *dw, const float *dout, const float *inp,
                          const float *rstd, const float *w, size_t N, int C) {
  rms_ctx c = {.x = x, .dinp = dinp, .dw = dw, .dout = dout, .inp = inp, .crstd = rstd, .w = w, .N = N, .C = C};
  llm_pool_for(x->pool, N, rms_bwd_rows, &c);
  llm_pool_for(x->pool, (size_t)C, rms_bwd_cols, &c);
}

/* ---------------------------------------------------------------------- */
/* Rotary position embeddings                                              */

void llm_rope_table(float *table, int P, int HS, float theta) {
  /* in float, as llama2.c computes it, so imported models see the same
  ** angles as in the reference */
  for (int pos = 0; pos < P; pos++)
    for (int j = 0; j < HS / 2; j++) {
      float freq = 1.0f / powf(theta, (float)(2 * j) / (float)HS);
      float val = (float)pos * freq;
      table[((size_t)pos * (HS / 2) + j) * 2] = cosf(val);
      table[((size_t)pos * (HS / 2) + j) * 2 + 1] = sinf(val);
    }
}

typedef struct rope_ctx {
  const llm_exec *x;
  float *qkv;
  const float *table;
  int T, pos0, C, KV, HS;
  float sign; /* +1 forward, -1 backward (the inverse rotation) */
} rope_ctx;

static void rope_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const rope_ctx *c = p;
  size_t QKV = (size_t)c->C + 2 * (size_t)c->KV;
  int half = c->HS / 2, width = c->C + c->KV; /* queries, then keys */
  for (size_t r = lo; r < hi; r++) {
    float *row = c->qkv + r * QKV;
    const float *t = c->table + (size_t)(c->pos0 + (int)(r % (size_t)c->T)) * (size_t)half * 2;
    for (int i = 0; i < width; i += 2) {
      int j = (i % c->HS) / 2;
      float cs = t[2 * j], sn = c->sign * t[2 * j + 1];
      float v0 = row[i], v1 = row[i + 1];
      row[i] = v0 * cs - v1 * sn;
      row[i + 1] = v0 * sn + v1 * cs;
    }
  }
}

void llm_rope_forward(const llm_exec *x, float *qkv, const float *table, size_t N, int T, int pos0, int C,
                      int KV, int HS) {
  rope_ctx c = {.x = x, .qkv = qkv, .table = table, .T = T, .pos0 = pos0, .C = C, .KV = KV, .HS = HS,
                .sign = 1.0f};
  llm_pool_for(x->pool, N, rope_rows, &c);
}

void llm_rope_backward(const llm_exec *x, float *dqkv, const float *table, size_t N, int T, int pos0, int C,
                       int KV, int HS) {
  rope_ctx c = {.x = x, .qkv = dqkv, .table = table, .T = T, .pos0 = pos0, .C = C, .KV = KV, .HS = HS,
                .sign = -1.0f};
  llm_pool_for(x->pool, N, rope_rows, &c);
}

/* ---------------------------------------------------------------------- */
/* SwiGLU                                                                  */

typedef struct swiglu_ctx {
  const llm_exec *x;
  float *out;
  const float *inp, *dout;
  int H;
} swiglu_ctx;

static void swiglu_fwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const swiglu_ctx *c = p;
  size_t H = (size_t)c->H;
  for (size_t r = lo; r < hi; r++) {
    const float *g = c->inp + r * 2 * H, *u = g + H;
    float *o = c->out + r * H;
    for (size_t i = 0; i < H; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
  }
}

void llm_swiglu_forward(const llm_exec *x, float *out, const float *inp, size_t N, int H) {
  swiglu_ctx c = {.x = x, .out = out, .inp = inp, .H = H};
  llm_pool_for(x->pool, N, swiglu_fwd_rows, &c);
}

static void swiglu_bwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const swiglu_ctx *c = p;
  size_t H = (size_t)c->H;
  for (size_t r = lo; r < hi; r++) {
    const float *g = c->inp + r * 2 * H, *u = g + H, *d = c->dout + r * H;
    float *dg = c->out + r * 2 * H, *du = dg + H;
    for (size_t i = 0; i < H; i++) {
      float s = 1.0f / (1.0f + expf(-g[i]));
      du[i] = d[i] * g[i] * s;
      dg[i] = d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
  }
}

void llm_swiglu_backward(const llm_exec *x, float *dinp, const float *inp, const float *dout, size_t N, int H) {
  swiglu_ctx c = {.x = x, .out = dinp, .inp = inp, .dout = dout, .H = H};
  llm_pool_for(x->pool, N, swiglu_bwd_rows, &c);
}
