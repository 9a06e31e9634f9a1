/*
** layers_llama.c: the layers the Llama family's blocks add (see layers.h):
** RMSNorm, rotary position embeddings, the per-head norm of queries and keys
** (Qwen3, Gemma 3) and the gated activations SwiGLU and GeGLU, as
** forward/backward pairs split over the pool like those of layers.c.
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

void llm_rope_table(float *table, int P, int n_rot, float theta, float scale, const float *factors) {
  /* in float, as llama2.c computes it and as the inference pass does
  ** (infer.c), so that a model sees the angles it was trained with */
  int half = n_rot / 2;
  for (int pos = 0; pos < P; pos++)
    for (int j = 0; j < half; j++) {
      float freq = 1.0f / powf(theta, (float)(2 * j) / (float)n_rot);
      if (factors) freq /= factors[j];
      float val = (float)pos / scale * freq;
      table[((size_t)pos * (size_t)half + (size_t)j) * 2] = cosf(val);
      table[((size_t)pos * (size_t)half + (size_t)j) * 2 + 1] = sinf(val);
    }
}

typedef struct rope_ctx {
  const llm_exec *x;
  float *rows;
  const float *table;
  int T, pos0;
  size_t ld;
  llm_rope_shape r;
  float sign; /* +1 forward, -1 backward (the inverse rotation) */
} rope_ctx;

static void rope_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const rope_ctx *c = p;
  int half = c->r.n_rot / 2, halves = c->r.halves;
  for (size_t r = lo; r < hi; r++) {
    const float *t = c->table + (size_t)(c->pos0 + (int)(r % (size_t)c->T)) * (size_t)half * 2;
    for (int h = 0; h < c->r.heads; h++) {
      float *v = c->rows + r * c->ld + (size_t)h * (size_t)c->r.HS;
      for (int j = 0; j < half; j++) {
        int i0 = halves ? j : 2 * j, i1 = halves ? j + half : 2 * j + 1;
        float cs = t[2 * j], sn = c->sign * t[2 * j + 1];
        float v0 = v[i0], v1 = v[i1];
        v[i0] = v0 * cs - v1 * sn;
        v[i1] = v0 * sn + v1 * cs;
      }
    }
  }
}

void llm_rope_forward(const llm_exec *x, float *rows, const float *table, size_t N, int T, int pos0, size_t ld,
                      const llm_rope_shape *r) {
  rope_ctx c = {.x = x, .rows = rows, .table = table, .T = T, .pos0 = pos0, .ld = ld, .r = *r, .sign = 1.0f};
  llm_pool_for(x->pool, N, rope_rows, &c);
}

void llm_rope_backward(const llm_exec *x, float *drows, const float *table, size_t N, int T, int pos0, size_t ld,
                       const llm_rope_shape *r) {
  rope_ctx c = {.x = x, .rows = drows, .table = table, .T = T, .pos0 = pos0, .ld = ld, .r = *r, .sign = -1.0f};
  llm_pool_for(x->pool, N, rope_rows, &c);
}

/* ---------------------------------------------------------------------- */
/* Per-head RMSNorm of queries and keys                                    */

typedef struct headnorm_ctx {
  const llm_exec *x;
  float *out, *rstd, *dinp, *dwq, *dwk;
  const float *inp, *wq, *wk, *dout, *crstd;
  size_t N, ld;
  int NH, NKV, HS;
  float eps;
} headnorm_ctx;

static void headnorm_fwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const headnorm_ctx *c = p;
  size_t HS = (size_t)c->HS, heads = (size_t)(c->NH + c->NKV), width = heads * HS;
  for (size_t r = lo; r < hi; r++) {
    const float *in = c->inp + r * c->ld;
    float *o = c->out + r * c->ld;
    for (size_t h = 0; h < heads; h++) {
      const float *v = in + h * HS, *w = h < (size_t)c->NH ? c->wq : c->wk;
      float rs = 1.0f / sqrtf(llm_vdot(c->x->simd, v, v, HS) / (float)HS + c->eps);
      for (size_t i = 0; i < HS; i++) o[h * HS + i] = w[i] * (rs * v[i]);
      c->rstd[r * heads + h] = rs;
    }
    if (o != in) memcpy(o + width, in + width, (c->ld - width) * sizeof *o);
  }
}

void llm_headnorm_forward(const llm_exec *x, float *out, float *rstd, const float *inp, const float *wq,
                          const float *wk, size_t N, size_t ld, int NH, int NKV, int HS, float eps) {
  headnorm_ctx c = {.x = x, .out = out, .rstd = rstd, .inp = inp, .wq = wq, .wk = wk, .N = N, .ld = ld,
                    .NH = NH, .NKV = NKV, .HS = HS, .eps = eps};
  llm_pool_for(x->pool, N, headnorm_fwd_rows, &c);
}

/* dw[i] of the query norm (columns [0, HS)) and the key norm ([HS, 2 HS)):
** sums over rows and heads, in row order. */
static void headnorm_bwd_cols(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const headnorm_ctx *c = p;
  size_t HS = (size_t)c->HS, heads = (size_t)(c->NH + c->NKV);
  for (size_t col = lo; col < hi; col++) {
    int keys = col >= HS;
    size_t i = col % HS, h0 = keys ? (size_t)c->NH : 0, h1 = keys ? heads : (size_t)c->NH;
    float s = 0;
    for (size_t r = 0; r < c->N; r++)
      for (size_t h = h0; h < h1; h++)
        s += c->dout[r * c->ld + h * HS + i] * c->inp[r * c->ld + h * HS + i] * c->crstd[r * heads + h];
    (keys ? c->dwk : c->dwq)[i] = s;
  }
}

/* As RMSNorm's backward (with n = v rstd, g = dout w: dv = rstd (g - n
** mean(g n))), per head, written. */
static void headnorm_bwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const headnorm_ctx *c = p;
  size_t HS = (size_t)c->HS, heads = (size_t)(c->NH + c->NKV), width = heads * HS;
  for (size_t r = lo; r < hi; r++) {
    for (size_t h = 0; h < heads; h++) {
      const float *d = c->dout + r * c->ld + h * HS, *v = c->inp + r * c->ld + h * HS;
      const float *w = h < (size_t)c->NH ? c->wq : c->wk;
      float rs = c->crstd[r * heads + h], s = 0;
      for (size_t i = 0; i < HS; i++) s += d[i] * w[i] * v[i];
      float a = s * rs * rs / (float)HS;
      float *di = c->dinp + r * c->ld + h * HS;
      for (size_t i = 0; i < HS; i++) di[i] = rs * (d[i] * w[i] - v[i] * a);
    }
    if (c->dinp != c->dout) memcpy(c->dinp + r * c->ld + width, c->dout + r * c->ld + width, (c->ld - width) * sizeof(float));
  }
}

void llm_headnorm_backward(const llm_exec *x, float *dinp, float *dwq, float *dwk, const float *dout,
                           const float *inp, const float *rstd, const float *wq, const float *wk, size_t N,
                           size_t ld, int NH, int NKV, int HS) {
  headnorm_ctx c = {.x = x, .dinp = dinp, .dwq = dwq, .dwk = dwk, .dout = dout, .inp = inp, .crstd = rstd,
                    .wq = wq, .wk = wk, .N = N, .ld = ld, .NH = NH, .NKV = NKV, .HS = HS};
  /* the weights' gradients first: dinp may overwrite dout */
  llm_pool_for(x->pool, 2 * (size_t)HS, headnorm_bwd_cols, &c);
  llm_pool_for(x->pool, N, headnorm_bwd_rows, &c);
}

/* ---------------------------------------------------------------------- */
/* Gated linear units: SwiGLU and GeGLU                                    */

typedef struct glu_ctx {
  const llm_exec *x;
  float *out;
  const float *inp, *dout;
  int H, gelu;
} glu_ctx;

static void glu_fwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const glu_ctx *c = p;
  size_t H = (size_t)c->H;
  for (size_t r = lo; r < hi; r++) {
    const float *g = c->inp + r * 2 * H, *u = g + H;
    float *o = c->out + r * H;
    if (c->gelu) {
      llm_vgelu(c->x->simd, o, g, H);
      for (size_t i = 0; i < H; i++) o[i] *= u[i];
    } else {
      llm_vswiglu(c->x->simd, o, g, u, H);
    }
  }
}

static void glu_bwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const glu_ctx *c = p;
  size_t H = (size_t)c->H;
  for (size_t r = lo; r < hi; r++) {
    const float *g = c->inp + r * 2 * H, *u = g + H, *d = c->dout + r * H;
    float *dg = c->out + r * 2 * H, *du = dg + H;
    if (c->gelu) {
      for (size_t i = 0; i < H; i++) dg[i] = d[i] * u[i];
      llm_vgelu_backward(c->x->simd, dg, g, dg, H);
      llm_vgelu(c->x->simd, du, g, H);
      for (size_t i = 0; i < H; i++) du[i] *= d[i];
      continue;
    }
    llm_vswiglu_backward(c->x->simd, dg, du, g, u, d, H);
  }
}

static void glu(const llm_exec *x, float *out, const float *inp, const float *dout, size_t N, int H, int gelu) {
  glu_ctx c = {.x = x, .out = out, .inp = inp, .dout = dout, .H = H, .gelu = gelu};
  llm_pool_for(x->pool, N, dout ? glu_bwd_rows : glu_fwd_rows, &c);
}

void llm_swiglu_forward(const llm_exec *x, float *out, const float *inp, size_t N, int H) {
  glu(x, out, inp, NULL, N, H, 0);
}
void llm_swiglu_backward(const llm_exec *x, float *dinp, const float *inp, const float *dout, size_t N, int H) {
  glu(x, dinp, inp, dout, N, H, 0);
}
void llm_geglu_forward(const llm_exec *x, float *out, const float *inp, size_t N, int H) {
  glu(x, out, inp, NULL, N, H, 1);
}
void llm_geglu_backward(const llm_exec *x, float *dinp, const float *inp, const float *dout, size_t N, int H) {
  glu(x, dinp, inp, dout, N, H, 1);
}
