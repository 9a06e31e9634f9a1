/*
** infer.c: the KV-cache forward pass of infer.h.
**
** Memory: one allocation, carved into 64-byte aligned arrays: the cache
** k, v [L, block_size, KV] (KV = n_kv_head * HS, the width of keys and
** values), the activations of up to P = block_size rows (x, ln, qkv, atty,
** fch (the MLP's first product: H wide for GPT, 2H for SwiGLU), act (its
** activation), hidden, mean, rstd), the attention scores [NH, QB,
** block_size] of one block of queries, and the logits
** [LLM_INFER_LOGIT_ROWS, V].
**
** Threads: the products go to the pool only when a matrix is big enough
** that splitting it beats the cost of waking the workers (a few
** microseconds); the row-wise work of a decode step (one row) runs inline.
*/
#include "nn/infer.h"

#include <math.h>
#include <string.h>

#include "kernels/blas.h"
#include "nn/layers.h"
#include "kernels/vec.h"

/* Queries per block in prefill attention (bounds the score scratch). */
#define QB 64
/* Products of fewer weights than this run on the calling thread. */
#define PAR_MIN_WEIGHTS (1 << 16)

/* The tensors the forward reads (those of either architecture), found by
** name once, in llm_infer_new. */
enum {
  W_WTE, W_WPE, W_LN1W, W_LN1B, W_QKVW, W_QKVB, W_PROJW, W_PROJB, W_LN2W, W_LN2B, W_FCW, W_FCB, W_FCPW, W_FCPB, W_LNFW, W_LNFB, W_ATTN_NORM, W_MLP_NORM, W_NORM, W_HEAD, W_COUNT
};
static const char *const W_NAMES[W_COUNT] = {
    "wte",
    "wpe",
    "blocks.ln1.weight",
    "blocks.ln1.bias",
    "blocks.attn.qkv.weight",
    "blocks.attn.qkv.bias",
    "blocks.attn.proj.weight",
    "blocks.attn.proj.bias",
    "blocks.ln2.weight",
    "blocks.ln2.bias",
    "blocks.mlp.fc.weight",
    "blocks.mlp.fc.bias",
    "blocks.mlp.proj.weight",
    "blocks.mlp.proj.bias",
    "lnf.weight",
    "lnf.bias",
    "blocks.attn_norm.weight",
    "blocks.mlp_norm.weight",
    "norm.weight",
    "lm_head.weight",
};

struct llm_infer {
  const llm_model *m;
  const float *p; /* the model's parameters */
  const float *w[W_COUNT]; /* NULL for the other architecture's */
  llm_config cfg;
  int simd, kv, pos;
  float *mem;
  float *k, *v, *x, *ln, *qkv, *atty, *fch, *act, *hidden, *mean, *rstd, *att;
  float *logits;
};

typedef struct layout {
  size_t k, v, x, ln, qkv, atty, fch, act, hidden, mean, rstd, att, logits, total;
} layout;

static size_t take(size_t *total, size_t n) {
  size_t at = *total;
  *total += (n + 15) / 16 * 16;
  return at;
}

/* Sizes are bounded by llm_config_check (each below 2^31, products of
** two or three of them fit in 64 bits). */
static layout infer_layout(const llm_config *c) {
  size_t L = (size_t)c->n_layer, P = (size_t)c->block_size;
  size_t C = (size_t)c->n_embd, H = (size_t)c->n_hidden;
  size_t KV = C / (size_t)c->n_head * (size_t)c->n_kv_head;
  size_t qkv = C + 2 * KV;
  layout a = {0};
  a.k = take(&a.total, L * P * KV);
  a.v = take(&a.total, L * P * KV);
  a.x = take(&a.total, P * C);
  a.ln = take(&a.total, P * C);
  a.qkv = take(&a.total, P * qkv);
  a.atty = take(&a.total, P * C);
  a.fch = take(&a.total, P * H * (c->arch == LLM_ARCH_LLAMA ? 2 : 1));
  a.act = take(&a.total, c->arch == LLM_ARCH_LLAMA ? P * H : 0);
  a.hidden = take(&a.total, P * C);
  a.mean = take(&a.total, P);
  a.rstd = take(&a.total, P);
  a.att = take(&a.total, (size_t)c->n_head * QB * P);
  a.logits = take(&a.total, (size_t)LLM_INFER_LOGIT_ROWS * (size_t)c->vocab_size);
  return a;
}

size_t llm_infer_bytes(const llm_config *c) {
  return infer_layout(c).total * sizeof(float) + 64;
}

int llm_infer_new(const llm_model *m, llm_infer **out, llm_err *err) {
  *out = NULL;
  const llm_config *c = llm_model_config(m);
  layout a = infer_layout(c);
  llm_infer *s = llm_calloc(1, sizeof *s);
  if (!s) return llm_fail(err, LLM_ENOMEM, "out of memory");
  s->mem = llm_malloc(a.total * sizeof(float) + 64);
  if (!s->mem) {
    llm_free(s);
    return llm_fail(err, LLM_ENOMEM, "out of memory for %.1f MB of KV cache and scratch",
                    (double)a.total * sizeof(float) / 1e6);
  }
  float *base = (float *)(((uintptr_t)s->mem + 63) & ~(uintptr_t)63);
  s->m = m;
  s->p = llm_model_params((llm_model *)m);
  for (int i = 0; i < W_COUNT; i++) {
    const llm_tensor *t = llm_model_find(m, W_NAMES[i]);
    s->w[i] = t ? s->p + t->offset : NULL;
  }
  if (!s->w[W_HEAD]) s->w[W_HEAD] = s->w[W_WTE]; /* tied */
  s->cfg = *c;
  s->simd = llm_simd_best();
  s->kv = c->n_embd / c->n_head * c->n_kv_head;
  s->k = base + a.k;
  s->v = base + a.v;
  s->x = base + a.x;
  s->ln = base + a.ln;
  s->qkv = base + a.qkv;
  s->atty = base + a.atty;
  s->fch = base + a.fch;
  s->act = c->arch == LLM_ARCH_LLAMA ? base + a.act : s->fch;
  s->hidden = base + a.hidden;
  s->mean = base + a.mean;
  s->rstd = base + a.rstd;
  s->att = base + a.att;
  s->logits = base + a.logits;
  *out = s;
  return LLM_OK;
}

void llm_infer_free(llm_infer *s) {
  if (!s) return;
  llm_free(s->mem);
  llm_free(s);
}

const llm_model *llm_infer_model(const llm_infer *s) { return s->m; }
void llm_infer_reset(llm_infer *s) { s->pos = 0; }
int llm_infer_pos(const llm_infer *s) { return s->pos; }
const float *llm_infer_hidden(const llm_infer *s) { return s->hidden; }

/* ---------------------------------------------------------------------- */
/* Attention over the cache                                                */

typedef struct att_ctx {
  llm_infer *s;
  const float *k, *v; /* this layer's cache */
  int r0, r1;         /* the block of new tokens [r0, r1) */
} att_ctx;

/* Head h for queries r0..r1-1 (positions pos + r): scores against keys
** 0..pos+r, softmax, weighted sum of values. */
static void att_heads(void *p, size_t lo, size_t hi, int tid) {
  (void)tid;
  const att_ctx *a = p;
  llm_infer *s = a->s;
  const llm_config *c = &s->cfg;
  int C = c->n_embd, HS = C / c->n_head, KV = s->kv, P = c->block_size;
  int QKV = C + 2 * KV, group = c->n_head / c->n_kv_head;
  int M = a->r1 - a->r0, keys = s->pos + a->r1;
  float scale = 1.0f / sqrtf((float)HS);
  for (size_t h = lo; h < hi; h++) {
    const float *q = s->qkv + (size_t)a->r0 * QKV + h * (size_t)HS;
    const float *k = a->k + (h / (size_t)group) * (size_t)HS;
    const float *v = a->v + (h / (size_t)group) * (size_t)HS;
    float *sc = s->att + h * (size_t)QB * P;
    float *y = s->atty + (size_t)a->r0 * C + h * (size_t)HS;
    if (M == 1) { /* decode: one pass over the cache beats two calls into BLAS */
      llm_vattend(s->simd, y, sc, q, k, v, (size_t)KV, (size_t)keys, (size_t)HS, scale);
      continue;
    }
    llm_sgemm(0, 1, M, keys, HS, scale, q, QKV, k, KV, 0.0f, sc, P);
    for (int i = 0; i < M; i++) {
      float *row = sc + (size_t)i * P;
      size_t len = (size_t)(s->pos + a->r0 + i + 1);
      float mx = llm_vmax(s->simd, row, len);
      float sum = llm_vexp_sum(s->simd, row, row, len, mx);
      llm_vscale(s->simd, row, len, 1.0f / sum);
      memset(row + len, 0, (size_t)(keys - (int)len) * sizeof *row);
    }
    llm_sgemm(0, 0, M, HS, keys, 1.0f, sc, P, v, KV, 0.0f, y, C);
  }
}

static void attention(llm_infer *s, const float *k, const float *v, int n,
                      llm_pool *pool) {
  const llm_config *c = &s->cfg;
  att_ctx a = {.s = s, .k = k, .v = v};
  for (a.r0 = 0; a.r0 < n; a.r0 = a.r1) {
    a.r1 = a.r0 + QB < n ? a.r0 + QB : n;
    size_t work = (size_t)(a.r1 - a.r0) * (size_t)(s->pos + a.r1) * (size_t)c->n_embd;
    llm_pool_for(work >= PAR_MIN_WEIGHTS / 4 ? pool : NULL, (size_t)c->n_head, att_heads, &a);
  }
}

/* ---------------------------------------------------------------------- */
/* The forward pass                                                        */

/* A tensor of the model (for the blocks' stacked ones, layer 0's slice). */
#define W(s, i) ((s)->w[W_##i])

/* inp[n, IN] -> out[n, OUT] (+ bias, + res), on the pool when worth it. */
static void linear(const llm_infer *s, llm_pool *pool, float *out, const float *inp,
                   const float *w, const float *bias, const float *res, int n, int IN,
                   int OUT) {
  size_t weights = (size_t)IN * (size_t)OUT;
  llm_exec x = {weights >= PAR_MIN_WEIGHTS ? pool : NULL, s->simd};
  llm_matmul_forward(&x, out, inp, w, bias, res, (size_t)n, IN, OUT);
}

/* Copies the keys and values of the n new rows into layer l's cache and
** attends over it. */
static void cache_and_attend(llm_infer *s, int l, int n, llm_pool *pool) {
  const llm_config *c = &s->cfg;
  int C = c->n_embd, KV = s->kv, Q = C + 2 * KV, P = c->block_size;
  float *kc = s->k + (size_t)l * P * KV, *vc = s->v + (size_t)l * P * KV;
  for (int i = 0; i < n; i++) {
    const float *row = s->qkv + (size_t)i * Q;
    memcpy(kc + (size_t)(s->pos + i) * KV, row + C, (size_t)KV * sizeof(float));
    memcpy(vc + (size_t)(s->pos + i) * KV, row + C + KV, (size_t)KV * sizeof(float));
  }
  attention(s, kc, vc, n, pool);
}

static void gpt_layer(llm_infer *s, int l, int n, const llm_exec *xr, llm_pool *pool) {
  const llm_config *c = &s->cfg;
  int C = c->n_embd, H = c->n_hidden, Q = C + 2 * s->kv;
  size_t lc = (size_t)l * C, lh = (size_t)l * H;
  llm_layernorm_forward(xr, s->ln, s->mean, s->rstd, s->x, W(s, LN1W) + lc,
                        W(s, LN1B) + lc, (size_t)n, C, c->norm_eps);
  linear(s, pool, s->qkv, s->ln, W(s, QKVW) + lc * Q,
         W(s, QKVB) + (size_t)l * Q, NULL, n, C, Q);
  cache_and_attend(s, l, n, pool);
  linear(s, pool, s->x, s->atty, W(s, PROJW) + lc * C,
         W(s, PROJB) + lc, s->x, n, C, C);
  llm_layernorm_forward(xr, s->ln, s->mean, s->rstd, s->x, W(s, LN2W) + lc,
                        W(s, LN2B) + lc, (size_t)n, C, c->norm_eps);
  linear(s, pool, s->fch, s->ln, W(s, FCW) + lh * C,
         W(s, FCB) + lh, NULL, n, C, H);
  llm_gelu_forward(xr, s->fch, s->fch, (size_t)n * H);
  linear(s, pool, s->x, s->fch, W(s, FCPW) + lc * H,
         W(s, FCPB) + lc, s->x, n, H, C);
}

static void llama_layer(llm_infer *s, int l, int n, const llm_exec *xr, llm_pool *pool) {
  const llm_config *c = &s->cfg;
  int C = c->n_embd, H = c->n_hidden, KV = s->kv, Q = C + 2 * KV;
  size_t lc = (size_t)l * C, lh = (size_t)l * H;
  llm_rmsnorm_forward(xr, s->ln, s->rstd, s->x, W(s, ATTN_NORM) + lc,
                      (size_t)n, C, c->norm_eps);
  linear(s, pool, s->qkv, s->ln, W(s, QKVW) + lc * Q, NULL, NULL, n, C, Q);
  llm_rope_forward(xr, s->qkv, llm_model_rope(s->m), (size_t)n, n, s->pos, C, KV,
                   C / c->n_head);
  cache_and_attend(s, l, n, pool);
  linear(s, pool, s->x, s->atty, W(s, PROJW) + lc * C, NULL, s->x, n, C, C);
  llm_rmsnorm_forward(xr, s->ln, s->rstd, s->x, W(s, MLP_NORM) + lc, (size_t)n,
                      C, c->norm_eps);
  linear(s, pool, s->fch, s->ln, W(s, FCW) + 2 * lh * C, NULL, NULL, n, C,
         2 * H);
  llm_swiglu_forward(xr, s->act, s->fch, (size_t)n, H);
  linear(s, pool, s->x, s->act, W(s, FCPW) + lc * H, NULL, s->x, n, H, C);
}

int llm_infer_forward(llm_infer *s, const int32_t *tokens, int n, llm_pool *pool,
                      llm_err *err) {
  const llm_config *c = &s->cfg;
  if (n < 1 || n > c->block_size - s->pos)
    return llm_fail(err, LLM_EINVAL,
                    "%d tokens do not fit: %d of the context's %d positions are in use", n,
                    s->pos, c->block_size);
  for (int i = 0; i < n; i++)
    if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
      return llm_fail(err, LLM_EINVAL, "token %d = %ld is not an id in [0, %d)", i,
                      (long)tokens[i], c->vocab_size);
  int C = c->n_embd, gpt = c->arch == LLM_ARCH_GPT;
  /* row-wise work is worth the pool only for a batch of rows */
  llm_exec xr = {n > 1 ? pool : NULL, s->simd};
  const float *wte = W(s, WTE), *wpe = gpt ? W(s, WPE) : NULL;
  for (int i = 0; i < n; i++) {
    const float *e = wte + (size_t)tokens[i] * C;
    if (wpe)
      llm_vadd3(s->simd, s->x + (size_t)i * C, e, wpe + (size_t)(s->pos + i) * C, (size_t)C);
    else
      memcpy(s->x + (size_t)i * C, e, (size_t)C * sizeof(float));
  }
  for (int l = 0; l < c->n_layer; l++) {
    if (gpt)
      gpt_layer(s, l, n, &xr, pool);
    else
      llama_layer(s, l, n, &xr, pool);
  }
  if (gpt)
    llm_layernorm_forward(&xr, s->hidden, s->mean, s->rstd, s->x, W(s, LNFW),
                          W(s, LNFB), (size_t)n, C, c->norm_eps);
  else
    llm_rmsnorm_forward(&xr, s->hidden, s->rstd, s->x, W(s, NORM), (size_t)n, C,
                        c->norm_eps);
  s->pos += n;
  return LLM_OK;
}

const float *llm_infer_logits(llm_infer *s, int row0, int nrows, llm_pool *pool) {
  const llm_config *c = &s->cfg;
  linear(s, pool, s->logits, s->hidden + (size_t)row0 * c->n_embd, W(s, HEAD), NULL, NULL, nrows,
         c->n_embd, c->vocab_size);
  return s->logits;
}
