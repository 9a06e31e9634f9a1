/*
** layers.c: encoder, LayerNorm, linear layers, GELU and the softmax
** cross-entropy (see layers.h; attention is in attention.c).
**
** Each layer hands llm_pool_for a context struct and a worker that gets a
** contiguous range [lo, hi) of rows (or columns, or elements). Sums over
** rows (parameter gradients of LayerNorm and biases, the encoder's scatter)
** are split by columns instead: each thread owns some output columns and
** adds the rows in order, so there is nothing to combine afterwards and the
** result does not even depend on the thread count.
*/
#include "nn/layers.h"

#include <math.h>
#include <string.h>

#include "kernels/blas.h"
#include "kernels/vec.h"

/* ---------------------------------------------------------------------- */
/* Encoder                                                                 */

typedef struct enc_ctx {
  const llm_exec *x;
  float *out, *dwte, *dwpe;
  const float *wte, *wpe, *dout;
  const int32_t *inp;
  int B, T, C;
} enc_ctx;

static void enc_fwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const enc_ctx *c = p;
  size_t C = (size_t)c->C;
  for (size_t r = lo; r < hi; r++) {
    const float *e = c->wte + (size_t)c->inp[r] * C;
    if (c->wpe)
      llm_vadd3(c->x->simd, c->out + r * C, e, c->wpe + (r % (size_t)c->T) * C, C);
    else
      memcpy(c->out + r * C, e, C * sizeof(float));
  }
}

void llm_encoder_forward(const llm_exec *x, float *out, const int32_t *inp,
                         const float *wte, const float *wpe, int B, int T,
                         int C) {
  enc_ctx c = {.x = x, .out = out, .wte = wte, .wpe = wpe, .inp = inp,
               .B = B, .T = T, .C = C};
  llm_pool_for(x->pool, (size_t)B * T, enc_fwd_rows, &c);
}

/* Columns [lo, hi) of both dwpe and dwte, rows in order. */
static void enc_bwd_cols(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const enc_ctx *c = p;
  size_t C = (size_t)c->C, T = (size_t)c->T, w = hi - lo;
  for (size_t t = 0; t < T && c->dwpe; t++) {
    float *d = c->dwpe + t * C + lo;
    memcpy(d, c->dout + t * C + lo, w * sizeof *d);
    for (size_t b = 1; b < (size_t)c->B; b++)
      llm_vadd(c->x->simd, d, c->dout + (b * T + t) * C + lo, w);
  }
  for (size_t r = 0; r < (size_t)c->B * T; r++)
    llm_vadd(c->x->simd, c->dwte + (size_t)c->inp[r] * C + lo,
             c->dout + r * C + lo, w);
}

void llm_encoder_backward(const llm_exec *x, float *dwte, float *dwpe,
                          const float *dout, const int32_t *inp, int B, int T,
                          int C) {
  enc_ctx c = {.x = x, .dwte = dwte, .dwpe = dwpe, .dout = dout, .inp = inp,
               .B = B, .T = T, .C = C};
  llm_pool_for(x->pool, (size_t)C, enc_bwd_cols, &c);
}

/* ---------------------------------------------------------------------- */
/* LayerNorm                                                               */

typedef struct ln_ctx {
  const llm_exec *x;
  float *out, *mean, *rstd, *dinp, *dw, *db;
  const float *inp, *w, *b, *dout, *cmean, *crstd;
  size_t N;
  int C;
  float eps;
} ln_ctx;

static void ln_fwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const ln_ctx *c = p;
  int s = c->x->simd;
  size_t C = (size_t)c->C;
  for (size_t r = lo; r < hi; r++) {
    const float *row = c->inp + r * C;
    /* Two passes: the variance from deviations, not E[x^2] - E[x]^2,
    ** which cancels badly when the mean is large. */
    float m = llm_vsum(s, row, C) / (float)C;
    float v = llm_vsqdev(s, row, C, m) / (float)C;
    float rs = 1.0f / sqrtf(v + c->eps);
    llm_vnorm_affine(s, c->out + r * C, row, C, m, rs, c->w, c->b);
    c->mean[r] = m;
    c->rstd[r] = rs;
  }
}

void llm_layernorm_forward(const llm_exec *x, float *out, float *mean,
                           float *rstd, const float *inp, const float *w,
                           const float *b, size_t N, int C, float eps) {
  ln_ctx c = {.x = x, .out = out, .mean = mean, .rstd = rstd, .inp = inp,
              .w = w, .b = b, .N = N, .C = C, .eps = eps};
  llm_pool_for(x->pool, N, ln_fwd_rows, &c);
}

static void ln_bwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const ln_ctx *c = p;
  int s = c->x->simd;
  size_t C = (size_t)c->C;
  for (size_t r = lo; r < hi; r++) {
    const float *d = c->dout + r * C, *in = c->inp + r * C;
    float s1, s2;
    llm_vln_sums(s, d, in, c->w, C, c->cmean[r], c->crstd[r], &s1, &s2);
    llm_vln_dinp(s, c->dinp + r * C, d, in, c->w, C, c->cmean[r], c->crstd[r],
                 s1 / (float)C, s2 / (float)C);
  }
}

static void ln_bwd_cols(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const ln_ctx *c = p;
  size_t C = (size_t)c->C, w = hi - lo;
  memset(c->dw + lo, 0, w * sizeof(float));
  memset(c->db + lo, 0, w * sizeof(float));
  for (size_t r = 0; r < c->N; r++) {
    if (r + 8 < c->N) {
      llm_prefetch(c->dout + (r + 8) * C + lo, w);
      llm_prefetch(c->inp + (r + 8) * C + lo, w);
    }
    llm_vln_dparams(c->x->simd, c->dw + lo, c->db + lo, c->dout + r * C + lo,
                    c->inp + r * C + lo, w, c->cmean[r], c->crstd[r]);
  }
}

void llm_layernorm_backward(const llm_exec *x, float *dinp, float *dw,
                            float *db, const float *dout, const float *inp,
                            const float *mean, const float *rstd,
                            const float *w, size_t N, int C) {
  ln_ctx c = {.x = x, .dinp = dinp, .dw = dw, .db = db, .dout = dout,
              .inp = inp, .cmean = mean, .crstd = rstd, .w = w, .N = N,
              .C = C};
  llm_pool_for(x->pool, N, ln_bwd_rows, &c);
  llm_pool_for(x->pool, (size_t)C, ln_bwd_cols, &c);
}

/* ---------------------------------------------------------------------- */
/* Linear layers                                                           */

typedef struct mm_ctx {
  const llm_exec *x;
  float *out, *dinp, *dw, *dbias;
  const float *inp, *w, *bias, *res, *dout;
  size_t N;
  int IN, OUT;
} mm_ctx;

static void mm_fwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const mm_ctx *c = p;
  const float *res = c->res, *bias = c->bias;
  size_t OUT = (size_t)c->OUT;
  /* out starts as res + bias and sgemm adds the product to it (beta = 1):
  ** one pass over out instead of two. */
  for (size_t r = lo; (res || bias) && r < hi; r++) {
    float *o = c->out + r * OUT;
    if (res && bias)
      llm_vadd3(c->x->simd, o, res + r * OUT, bias, OUT);
    else if (bias)
      memcpy(o, bias, OUT * sizeof *o);
    else if (res != c->out)
      memcpy(o, res + r * OUT, OUT * sizeof *o);
  }
  llm_sgemm(0, 1, (int)(hi - lo), c->OUT, c->IN, 1.0f,
            c->inp + lo * (size_t)c->IN, c->IN, c->w, c->IN,
            res || bias ? 1.0f : 0.0f, c->out + lo * OUT, c->OUT);
}

/* Output columns [lo, hi) of every row: for the few rows of inference,
** where splitting rows would leave threads idle. One row is a
** matrix-vector product, which streams w once. */
static void mm_fwd_cols(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const mm_ctx *c = p;
  size_t OUT = (size_t)c->OUT, IN = (size_t)c->IN, w = hi - lo;
  for (size_t r = 0; r < c->N; r++) {
    float *o = c->out + r * OUT + lo;
    const float *res = c->res ? c->res + r * OUT + lo : NULL;
    if (res && c->bias)
      llm_vadd3(c->x->simd, o, res, c->bias + lo, w);
    else if (c->bias)
      memcpy(o, c->bias + lo, w * sizeof *o);
    else if (!res)
      memset(o, 0, w * sizeof *o);
    else if (res != o)
      memcpy(o, res, w * sizeof *o);
  }
  if (c->N == 1) {
    llm_vmatvec(c->x->simd, c->out + lo, c->w + lo * IN, c->inp, w, IN);
    return;
  }
  llm_sgemm(0, 1, (int)c->N, (int)w, c->IN, 1.0f, c->inp, c->IN,
            c->w + lo * IN, c->IN, 1.0f, c->out + lo, c->OUT);
}

/* Below this many rows per thread, threads split the output columns. */
#define MM_MIN_ROWS_PER_THREAD 16

void llm_matmul_forward(const llm_exec *x, float *out, const float *inp,
                        const float *w, const float *bias, const float *res,
                        size_t N, int IN, int OUT) {
  mm_ctx c = {.x = x, .out = out, .inp = inp, .w = w, .bias = bias,
              .res = res, .N = N, .IN = IN, .OUT = OUT};
  if (N < (size_t)MM_MIN_ROWS_PER_THREAD * (size_t)llm_pool_threads(x->pool))
    llm_pool_for(x->pool, (size_t)OUT, mm_fwd_cols, &c);
  else
    llm_pool_for(x->pool, N, mm_fwd_rows, &c);
}

static void mm_bwd_dinp_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const mm_ctx *c = p;
  llm_sgemm(0, 0, (int)(hi - lo), c->IN, c->OUT, 1.0f,
            c->dout + lo * (size_t)c->OUT, c->OUT, c->w, c->IN, 0.0f,
            c->dinp + lo * (size_t)c->IN, c->IN);
}

#define ONES 512
#define ONES8 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f
#define ONES64 ONES8, ONES8, ONES8, ONES8, ONES8, ONES8, ONES8, ONES8
static const float ones[ONES] = {ONES64, ONES64, ONES64, ONES64,
                                 ONES64, ONES64, ONES64, ONES64};

/* Output rows [lo, hi) of dw (and the same entries of dbias): the sum
** over all N token rows stays inside one sgemm. */
static void mm_bwd_dw_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const mm_ctx *c = p;
  size_t IN = (size_t)c->IN, OUT = (size_t)c->OUT;
  /* dbias = dout^T 1, ONES rows at a time: OpenBLAS's matrix-vector
  ** kernel reads several rows at once and runs about 2.5x faster on these
  ** out-of-cache rows than adding them one by one. */
  for (size_t r = 0; c->dbias && r < c->N; r += ONES) {
    size_t n = c->N - r < ONES ? c->N - r : ONES;
    llm_sgemv(1, (int)n, (int)(hi - lo), 1.0f, c->dout + r * OUT + lo, c->OUT,
              ones, r ? 1.0f : 0.0f, c->dbias + lo);
  }
  llm_sgemm(1, 0, (int)(hi - lo), c->IN, (int)c->N, 1.0f, c->dout + lo, c->OUT,
            c->inp, c->IN, 0.0f, c->dw + lo * IN, c->IN);
}

void llm_matmul_backward(const llm_exec *x, float *dinp, float *dw,
                         float *dbias, const float *dout, const float *inp,
                         const float *w, size_t N, int IN, int OUT) {
  mm_ctx c = {.x = x, .dinp = dinp, .dw = dw, .dbias = dbias, .dout = dout,
              .inp = inp, .w = w, .N = N, .IN = IN, .OUT = OUT};
  if (dinp) llm_pool_for(x->pool, N, mm_bwd_dinp_rows, &c);
  llm_pool_for(x->pool, (size_t)OUT, mm_bwd_dw_rows, &c);
}

/* ---------------------------------------------------------------------- */
/* GELU                                                                    */

typedef struct gelu_ctx {
  const llm_exec *x;
  float *out;
  const float *inp, *dout;
} gelu_ctx;

static void gelu_fwd_range(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const gelu_ctx *c = p;
  llm_vgelu(c->x->simd, c->out + lo, c->inp + lo, hi - lo);
}

void llm_gelu_forward(const llm_exec *x, float *out, const float *inp,
                      size_t n) {
  gelu_ctx c = {.x = x, .out = out, .inp = inp};
  llm_pool_for(x->pool, n, gelu_fwd_range, &c);
}

static void gelu_bwd_range(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const gelu_ctx *c = p;
  llm_vgelu_backward(c->x->simd, c->out + lo, c->inp + lo, c->dout + lo,
                     hi - lo);
}

void llm_gelu_backward(const llm_exec *x, float *dinp, const float *inp,
                       const float *dout, size_t n) {
  gelu_ctx c = {.x = x, .out = dinp, .inp = inp, .dout = dout};
  llm_pool_for(x->pool, n, gelu_bwd_range, &c);
}

/* ---------------------------------------------------------------------- */
/* Softmax cross-entropy                                                   */

typedef struct ce_ctx {
  const llm_exec *x;
  float *lse, *losses, *dlogits;
  const float *logits, *clse;
  const int32_t *targets;
  size_t N, n_mean;
  int V;
} ce_ctx;

static void ce_fwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const ce_ctx *c = p;
  int s = c->x->simd;
  size_t V = (size_t)c->V;
  for (size_t r = lo; r < hi; r++) {
    const float *l = c->logits + r * V;
    float m = llm_vmax(s, l, V);
    float lse = m + logf(llm_vexp_sum(s, NULL, l, V, m));
    c->lse[r] = lse;
    c->losses[r] = lse - l[c->targets[r]];
  }
}

float llm_crossentropy_forward(const llm_exec *x, float *lse, float *losses,
                               const float *logits, const int32_t *targets,
                               size_t N, int V) {
  ce_ctx c = {.x = x, .lse = lse, .losses = losses, .logits = logits,
              .targets = targets, .N = N, .V = V};
  llm_pool_for(x->pool, N, ce_fwd_rows, &c);
  double sum = 0;
  for (size_t r = 0; r < N; r++) sum += losses[r];
  return (float)(sum / (double)N);
}

static void ce_bwd_rows(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const ce_ctx *c = p;
  size_t V = (size_t)c->V;
  float scale = 1.0f / (float)c->n_mean;
  for (size_t r = lo; r < hi; r++) {
    float *d = c->dlogits + r * V;
    llm_vexp_scale(c->x->simd, d, c->logits + r * V, V, c->clse[r], scale);
    d[c->targets[r]] -= scale;
  }
}

void llm_crossentropy_backward(const llm_exec *x, float *dlogits,
                               const float *logits, const float *lse,
                               const int32_t *targets, size_t N,
                               size_t n_mean, int V) {
  ce_ctx c = {.x = x, .dlogits = dlogits, .logits = logits, .clse = lse,
              .targets = targets, .N = N, .n_mean = n_mean, .V = V};
  llm_pool_for(x->pool, N, ce_bwd_rows, &c);
}
