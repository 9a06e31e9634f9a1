/*
** infer.c: the KV-cache forward pass of infer.h, over the weight views of
** net.h (one pass for every architecture: the traits choose the steps).
**
** Memory grows with use, so that a model declaring a context of 128k
** tokens costs what the texts it runs need:
**   the cache k, v [L, n_kv_head, cap, head_dim], of floats or of halves
**     (llm_infer_set_kv_type), cap doubling up to the context as positions
**     are used; head-major, so that a head's attention reads its keys and
**     values in one sequential sweep (position-major, a head's rows were
**     KW apart: a cache miss each, which decode at long contexts waited on);
**   the activations of up to R rows (x, ln, qkv, atty, tmp, fch, act,
**     mean, rstd, the rotary cos/sin of the rows), R growing to the
**     largest pass; a forward of more than UB tokens of a decoder runs in
**     passes of UB (each attends to the cache the earlier ones filled);
**     an encoder's tokens all go in one pass (they see each other);
**   hidden [n, C], the final states of the last forward's n tokens;
**   per pool thread, attention scores [QB, cap], and with a cache of
**     halves the keys and values of one head widened to floats [2, cap,
**     head_dim] for prefill's products; the quantized activations of the
**     typed products (linear.h).
** A decode step after the first allocates nothing.
** Several sequences can run together (llm_infer_forward_batch): their
** rows share the products, each attends to its own cache.
**
** Threads: the products go to the pool only when a matrix is big enough
** that splitting it beats the cost of waking the workers (a few
** microseconds); the row-wise work of a decode step (one row) runs inline.
*/
#include "nn/infer.h"

#include <math.h>
#include <string.h>

#include "kernels/blas.h"
#include "kernels/qtypes.h"
#include "kernels/vec.h"
#include "nn/layers.h"

/* Queries per block in prefill attention (bounds the score scratch). */
#define QB 64
/* Products of fewer weights than this run on the calling thread. */
#define PAR_MIN_WEIGHTS (1 << 16)
/* Rows per pass of a decoder's forward. */
#define UB 512
/* The cache's first capacity, in positions. */
#define KV_FIRST 64

struct llm_infer {
  const llm_net *net;
  llm_net *own_net; /* llm_infer_new_model's views */
  const llm_config *cfg;
  const llm_arch_traits *tr;
  int simd, pos;
  int hd, qw, kw, qkvw, fw; /* head size; widths of q, k (= v), q+k+v, the MLP's first product */
  int n_rope;               /* rotary bases in use: 1, or 2 with local layers */
  int kv_type;              /* LLM_KV_F32 or LLM_KV_F16 */
  size_t kv_cap;            /* positions the cache holds */
  void *k, *v;              /* floats or halves (kv_type) */
  size_t rows_cap;          /* rows the activations hold */
  float *act_mem;
  float *x, *ln, *qkv, *atty, *tmp, *fch, *act, *mean, *rstd, *rope_cs;
  int *row_pos;             /* each row's position in its sequence */
  size_t hidden_cap;
  float *hidden;
  float *logits;
  size_t many_cap;          /* floats of logits_many */
  float *logits_many;       /* llm_infer_logits_batch's [count, V] */
  size_t att_cap, qact_cap;            /* floats of the scratch */
  size_t att_stride;                   /* floats of one thread's attention scratch */
  size_t att_kv;                       /* positions it holds (scores [QB, att_kv] first) */
  float *att, *qact;                   /* (qact: quantized activations) */
  llm_linear_buf lin;
};

/* ---- memory --------------------------------------------------------- */

/* Floats of the activations of one row. */
static size_t row_floats(const llm_infer *s) {
  size_t C = (size_t)s->cfg->n_embd, H = (size_t)s->cfg->n_hidden;
  return 4 * C + (size_t)s->qkvw + (size_t)s->qw + (size_t)s->fw + H + 3 +
         (size_t)s->n_rope * (size_t)s->cfg->n_rot + 9 * 16; /* + alignment of each array */
}

size_t llm_infer_bytes(const llm_config *c) {
  /* the first allocations: a cache of KV_FIRST positions, one pass of
  ** rows, the logits (an estimate of the config's size, not a bound) */
  size_t L = (size_t)c->n_layer, C = (size_t)c->n_embd, H = (size_t)c->n_hidden;
  size_t hd = c->head_dim ? (size_t)c->head_dim : C / (size_t)c->n_head;
  size_t kw = hd * (size_t)(c->n_kv_head ? c->n_kv_head : c->n_head), qw = hd * (size_t)c->n_head;
  size_t cap = (size_t)c->block_size < KV_FIRST ? (size_t)c->block_size : KV_FIRST;
  size_t rows = (size_t)c->block_size < UB ? (size_t)c->block_size : UB;
  size_t per_row = 5 * C + 2 * qw + 2 * kw + 3 * H;
  return (2 * L * cap * kw + rows * per_row + (size_t)LLM_INFER_LOGIT_ROWS * (size_t)c->vocab_size) *
         sizeof(float);
}

/* *p holds at least n floats (old contents dropped). */
static int ensure(float **p, size_t *cap, size_t n) {
  if (n <= *cap) return LLM_OK;
  llm_free(*p);
  *cap = 0;
  if (!(*p = llm_malloc(n * sizeof(float)))) return LLM_ENOMEM;
  *cap = n;
  return LLM_OK;
}

static float *carve(float **at, size_t n) {
  float *p = *at;
  *at += (n + 15) / 16 * 16;
  return p;
}

static int ensure_rows(llm_infer *s, size_t rows, llm_err *err) {
  if (rows <= s->rows_cap) return LLM_OK;
  size_t cap = 0;
  float *mem = NULL;
  if (ensure(&mem, &cap, rows * row_floats(s) + 16))
    return llm_fail(err, LLM_ENOMEM, "out of memory for the activations of %zu tokens", rows);
  llm_free(s->act_mem);
  s->act_mem = mem;
  s->rows_cap = rows;
  const llm_config *c = s->cfg;
  size_t C = (size_t)c->n_embd, H = (size_t)c->n_hidden;
  float *at = (float *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
  s->x = carve(&at, rows * C);
  s->ln = carve(&at, rows * C);
  s->qkv = carve(&at, rows * (size_t)s->qkvw);
  s->atty = carve(&at, rows * (size_t)s->qw);
  s->tmp = carve(&at, rows * C);
  s->fch = carve(&at, rows * (size_t)s->fw);
  s->act = carve(&at, rows * H);
  s->mean = carve(&at, rows);
  s->rstd = carve(&at, rows);
  s->rope_cs = carve(&at, rows * (size_t)s->n_rope * (size_t)c->n_rot);
  s->row_pos = (int *)carve(&at, rows); /* (an int is no wider than a float) */
  return LLM_OK;
}

/* Bytes of an element of the cache. */
static size_t kv_es(const llm_infer *s) { return s->kv_type == LLM_KV_F16 ? sizeof(uint16_t) : sizeof(float); }

/* The cache holds positions [0, need): grows by doubling, keeping the
** positions in use. */
static int ensure_kv(llm_infer *s, size_t need, llm_err *err) {
  if (need <= s->kv_cap) return LLM_OK;
  size_t P = (size_t)s->cfg->block_size, cap = s->kv_cap ? s->kv_cap : KV_FIRST;
  while (cap < need) cap *= 2;
  if (cap > P) cap = P;
  /* one run of positions per (layer, kv head) */
  size_t L = (size_t)s->cfg->n_layer * (size_t)s->cfg->n_kv_head, row = (size_t)s->hd * kv_es(s);
  size_t used = (size_t)s->pos * row;
  char *k = llm_malloc(L * cap * row), *v = llm_malloc(L * cap * row);
  if (!k || !v) {
    llm_free(k);
    llm_free(v);
    return llm_fail(err, LLM_ENOMEM, "out of memory for a KV cache of %zu tokens (%.1f MB)", cap,
                    2.0 * (double)(L * cap * row) / 1e6);
  }
  for (size_t l = 0; l < L && used; l++) {
    memcpy(k + l * cap * row, (const char *)s->k + l * s->kv_cap * row, used);
    memcpy(v + l * cap * row, (const char *)s->v + l * s->kv_cap * row, used);
  }
  llm_free(s->k);
  llm_free(s->v);
  s->k = k;
  s->v = v;
  s->kv_cap = cap;
  return LLM_OK;
}

/* Room for the products of n rows (their quantized activations). */
static int lin_scratch(llm_infer *s, size_t n) {
  if (ensure(&s->qact, &s->qact_cap, (llm_linear_act_bytes(s->net->max_cols, n) + 3) / 4)) return LLM_ENOMEM;
  s->lin = (llm_linear_buf){s->qact};
  return LLM_OK;
}

int llm_infer_new(const llm_net *net, llm_infer **out, llm_err *err) {
  *out = NULL;
  llm_infer *s = llm_calloc(1, sizeof *s);
  if (!s) return llm_fail(err, LLM_ENOMEM, "out of memory");
  const llm_config *c = &net->cfg;
  s->net = net;
  s->cfg = c;
  s->tr = net->tr;
  s->simd = llm_simd_best();
  s->hd = c->head_dim;
  s->qw = s->hd * c->n_head;
  s->kw = s->hd * c->n_kv_head;
  s->qkvw = s->qw + 2 * s->kw;
  s->fw = c->n_hidden * (s->tr->gated ? 2 : 1);
  s->n_rope = 0;
  if (s->tr->rope) {
    s->n_rope = 1;
    for (int l = 0; l < c->n_layer; l++)
      if (net->layers[l].local && c->rope_theta_local != c->rope_theta) s->n_rope = 2;
  }
  int rc = ensure_kv(s, 1, err);
  if (!rc) rc = ensure_rows(s, 1, err);
  if (rc) {
    llm_infer_free(s);
    return rc;
  }
  *out = s;
  return LLM_OK;
}

int llm_infer_new_model(const llm_model *m, llm_infer **out, llm_err *err) {
  *out = NULL;
  llm_net *net = llm_calloc(1, sizeof *net);
  if (!net) return llm_fail(err, LLM_ENOMEM, "out of memory");
  int rc = llm_net_from_model(net, m, err);
  if (!rc) rc = llm_infer_new(net, out, err);
  if (rc) {
    llm_net_free(net);
    llm_free(net);
    return rc;
  }
  (*out)->own_net = net;
  return LLM_OK;
}

void llm_infer_free(llm_infer *s) {
  if (!s) return;
  llm_net_free(s->own_net);
  llm_free(s->own_net);
  llm_free(s->k);
  llm_free(s->v);
  llm_free(s->act_mem);
  llm_free(s->hidden);
  llm_free(s->logits);
  llm_free(s->logits_many);
  llm_free(s->att);
  llm_free(s->qact);
  llm_free(s);
}

const llm_net *llm_infer_net(const llm_infer *s) { return s->net; }
const llm_config *llm_infer_config(const llm_infer *s) { return s->cfg; }
void llm_infer_reset(llm_infer *s) { s->pos = 0; }
int llm_infer_kv_type(const llm_infer *s) { return s->kv_type; }

int llm_infer_set_kv_type(llm_infer *s, int type, llm_err *err) {
  if (type != LLM_KV_F32 && type != LLM_KV_F16)
    return llm_fail(err, LLM_EINVAL, "the KV cache's type must be LLM_KV_F32 or LLM_KV_F16, not %d", type);
  if (type == s->kv_type) return LLM_OK;
  llm_free(s->k);
  llm_free(s->v);
  s->k = s->v = NULL;
  s->kv_cap = 0;
  s->pos = 0;
  s->kv_type = type;
  return LLM_OK;
}
int llm_infer_pos(const llm_infer *s) { return s->pos; }
const float *llm_infer_hidden(const llm_infer *s) { return s->hidden; }

/* ---- one pass over the rows of several sequences ----------------------- */

/* A pass runs rows of one or more sequences through the model together:
** the products over all the rows at once (each row's arithmetic does not
** depend on the others: nn/linear.h), the attention per sequence over its
** own cache. The scratch is the workspace's (ws), the caches the
** sequences'. Row r of the pass is position ws->row_pos[r] of its
** sequence. */
typedef struct part {
  llm_infer *s;  /* the sequence */
  int r0, n;     /* its rows [r0, r0 + n) of the pass */
  size_t at;     /* where they go in its hidden states */
} part;

typedef struct pass_ctx {
  llm_infer *ws;
  const part *parts;
  int count, rows;
} pass_ctx;

/* The keys query row r (of a part starting at position p0 with n rows)
** sees: [*lo, *hi). */
static void key_range(const llm_infer *s, int p0, int n, int r, int window, int *lo, int *hi) {
  int q = p0 + r;
  *hi = s->tr->causal ? q + 1 : p0 + n; /* an encoder's pass: all its tokens */
  *lo = window && q - window + 1 > 0 ? q - window + 1 : 0;
}

typedef struct att_ctx {
  const pass_ctx *pc;
  int l, window;
} att_ctx;

/* Head h of one part, for all its rows (in blocks of QB queries): scores
** against the keys each row sees, softmax, weighted sum of values. */
static void att_part_head(const att_ctx *a, const part *pt, size_t h, int tid) {
  llm_infer *ws = a->pc->ws, *s = pt->s;
  const llm_config *c = ws->cfg;
  int HD = ws->hd, QKVW = ws->qkvw, group = c->n_head / c->n_kv_head, p0 = s->pos;
  int half = s->kv_type == LLM_KV_F16;
  /* the cache's element of position 0 of this head's keys and values */
  size_t at = ((size_t)a->l * (size_t)c->n_kv_head + h / (size_t)group) * s->kv_cap * (size_t)HD;
  float *sc = ws->att + (size_t)tid * ws->att_stride;
  /* what the products read: floats from position base on, rows ld apart
  ** (a cache of halves: the positions the rows see, widened once) */
  const float *kf = half ? NULL : (const float *)s->k + at, *vf = half ? NULL : (const float *)s->v + at;
  size_t ld = (size_t)HD;
  int base = 0;
  if (half && pt->n > 1) {
    int lo, hi, last_lo, last_hi;
    key_range(s, p0, pt->n, 0, a->window, &lo, &hi);
    key_range(s, p0, pt->n, pt->n - 1, a->window, &last_lo, &last_hi);
    float *wk = sc + (size_t)QB * ws->att_kv, *wv = wk + ws->att_kv * (size_t)HD;
    size_t src = at + (size_t)lo * (size_t)HD, n = (size_t)(last_hi - lo) * (size_t)HD;
    llm_vfrom_f16(ws->simd, wk, (const uint16_t *)s->k + src, n);
    llm_vfrom_f16(ws->simd, wv, (const uint16_t *)s->v + src, n);
    kf = wk, vf = wv, base = lo;
  }
  for (int r0 = 0; r0 < pt->n; r0 += QB) {
    int r1 = r0 + QB < pt->n ? r0 + QB : pt->n, M = r1 - r0, klo, khi, last_lo, last_hi;
    key_range(s, p0, pt->n, r0, a->window, &klo, &khi);
    key_range(s, p0, pt->n, r1 - 1, a->window, &last_lo, &last_hi);
    int K = last_hi - klo; /* keys of the block: [klo, last_hi) */
    const float *q = ws->qkv + (size_t)(pt->r0 + r0) * QKVW + h * (size_t)HD;
    float *y = ws->atty + (size_t)(pt->r0 + r0) * ws->qw + h * (size_t)HD;
    /* decode: one pass over the cache beats two calls into BLAS */
    if (M == 1 && half) {
      size_t first = at + (size_t)klo * (size_t)HD;
      llm_vattend_f16(ws->simd, y, sc, q, (const uint16_t *)s->k + first, (const uint16_t *)s->v + first,
                      (size_t)HD, (size_t)K, (size_t)HD, c->attn_scale);
      continue;
    }
    const float *k = kf + (size_t)(klo - base) * ld, *v = vf + (size_t)(klo - base) * ld;
    if (M == 1) {
      llm_vattend(ws->simd, y, sc, q, k, v, ld, (size_t)K, (size_t)HD, c->attn_scale);
      continue;
    }
    llm_sgemm(0, 1, M, K, HD, c->attn_scale, q, QKVW, k, (int)ld, 0.0f, sc, K);
    for (int i = 0; i < M; i++) {
      float *row = sc + (size_t)i * K;
      int rlo, rhi;
      key_range(s, p0, pt->n, r0 + i, a->window, &rlo, &rhi);
      size_t b = (size_t)(rlo - klo), len = (size_t)(rhi - rlo);
      float mx = llm_vmax(ws->simd, row + b, len);
      float sum = llm_vexp_sum(ws->simd, row + b, row + b, len, mx);
      llm_vscale(ws->simd, row + b, len, 1.0f / sum);
      memset(row, 0, b * sizeof *row);
      memset(row + b + len, 0, ((size_t)K - b - len) * sizeof *row);
    }
    llm_sgemm(0, 0, M, HD, K, 1.0f, sc, K, v, (int)ld, 0.0f, y, ws->qw);
  }
}

/* Items [lo, hi) of the (part, head) pairs. */
static void att_items(void *p, size_t lo, size_t hi, int tid) {
  const att_ctx *a = p;
  size_t NH = (size_t)a->pc->ws->cfg->n_head;
  for (size_t i = lo; i < hi; i++) att_part_head(a, &a->pc->parts[i / NH], i % NH, tid);
}

static void attention(const pass_ctx *pc, int l, int window, llm_pool *pool) {
  llm_infer *ws = pc->ws;
  att_ctx a = {pc, l, window};
  size_t work = 0;
  for (int i = 0; i < pc->count; i++)
    work += (size_t)pc->parts[i].n * (size_t)(pc->parts[i].s->pos + pc->parts[i].n) * (size_t)ws->qw;
  llm_pool_for(work >= PAR_MIN_WEIGHTS / 4 ? pool : NULL, (size_t)pc->count * (size_t)ws->cfg->n_head,
               att_items, &a);
}

/* inp[n, w.cols] -> out (row stride ldo), on the pool when worth it. */
static void linear(const llm_infer *s, llm_pool *pool, float *out, size_t ldo, const float *inp, int n,
                   const llm_wmat *w, const float *bias, int acc) {
  size_t weights = (size_t)w->rows * (size_t)w->cols;
  llm_exec x = {weights >= PAR_MIN_WEIGHTS ? pool : NULL, s->simd};
  llm_linear(&x, out, ldo, inp, (size_t)n, w, bias, acc, &s->lin);
}

/* Products of the same input with matrices whose outputs sit side by side
** in out's rows (q, k, v; gate, up): matrices adjacent in memory (and
** their biases, if any, adjacent too) run as one product. */
static void linear_group(const llm_infer *s, llm_pool *pool, float *out, size_t ldo, const float *inp,
                         int n, const llm_wmat *w, const float *const *bias, int count) {
  for (int i = 0; i < count;) {
    llm_wmat m = w[i];
    int j = i + 1;
    for (; j < count && llm_wmat_adjacent(&w[j - 1], &w[j]) &&
           (bias[i] ? bias[j - 1] && bias[j] == bias[j - 1] + w[j - 1].rows : !bias[j]);
         j++)
      m.rows += w[j].rows;
    linear(s, pool, out, ldo, inp, n, &m, bias[i], 0);
    for (int k = i; k < j; k++) out += w[k].rows;
    i = j;
  }
}

/* The norm of the architecture: out = norm(inp) rowwise. */
static void norm(const llm_infer *s, const llm_exec *xr, float *out, const float *inp, const float *w,
                 const float *b, int n, int width) {
  if (s->tr->layer_norm)
    llm_layernorm_forward(xr, out, s->mean, s->rstd, inp, w, b, (size_t)n, width, s->cfg->norm_eps);
  else
    llm_rmsnorm_forward(xr, out, s->rstd, inp, w, (size_t)n, width, s->cfg->norm_eps);
}

/* The rotary cos/sin of the pass's rows for each base in use:
** rope_cs[base][row][i] = (cos, sin) of the row's position * frequency i. */
static void rope_angles(llm_infer *s, int n) {
  const llm_config *c = s->cfg;
  int half = c->n_rot / 2;
  for (int b = 0; b < s->n_rope; b++) {
    float theta = b ? c->rope_theta_local : c->rope_theta;
    for (int r = 0; r < n; r++) {
      float *cs = s->rope_cs + ((size_t)b * (size_t)n + (size_t)r) * (size_t)c->n_rot;
      float p = (float)s->row_pos[r] / c->rope_scale;
      for (int i = 0; i < half; i++) {
        /* in float, as llama2.c computes it (models trained here and
        ** imported from it see the angles they were trained with) */
        float freq = 1.0f / powf(theta, (float)(2 * i) / (float)c->n_rot);
        if (s->net->rope_freqs) freq /= s->net->rope_freqs[i];
        float a = p * freq;
        cs[2 * i] = cosf(a);
        cs[2 * i + 1] = sinf(a);
      }
    }
  }
}

/* Rotates the first n_rot dimensions of each of `heads` heads of the n
** rows (stride ld) by the angles of base b. */
static void rope_apply(const llm_infer *s, float *x, size_t ld, int n, int heads, int b) {
  const llm_config *c = s->cfg;
  int half = c->n_rot / 2, halves = s->tr->rope == LLM_ROPE_HALVES;
  for (int r = 0; r < n; r++) {
    const float *cs = s->rope_cs + ((size_t)b * (size_t)n + (size_t)r) * (size_t)c->n_rot;
    for (int h = 0; h < heads; h++) {
      float *v = x + (size_t)r * ld + (size_t)h * (size_t)s->hd;
      for (int i = 0; i < half; i++) {
        int i0 = halves ? i : 2 * i, i1 = halves ? i + half : 2 * i + 1;
        float v0 = v[i0], v1 = v[i1], co = cs[2 * i], sn = cs[2 * i + 1];
        v[i0] = v0 * co - v1 * sn;
        v[i1] = v0 * sn + v1 * co;
      }
    }
  }
}

/* RMSNorm of each head-wide piece of the n rows' `heads` heads. */
static void head_norm(const llm_infer *s, float *x, size_t ld, int n, int heads, const float *w) {
  int HD = s->hd;
  for (int r = 0; r < n; r++)
    for (int h = 0; h < heads; h++) {
      float *v = x + (size_t)r * ld + (size_t)h * (size_t)HD;
      float ss = llm_vdot(s->simd, v, v, (size_t)HD) / (float)HD;
      float rs = 1.0f / sqrtf(ss + s->cfg->norm_eps);
      for (int i = 0; i < HD; i++) v[i] = w[i] * (v[i] * rs);
    }
}

/* act[n, H] = act(g) * u over fch's [g | u] rows (gated), or GELU(fch)
** (the ungated MLPs, GPT-2's and BERT's, are all GELU). */
static void mlp_activation(const llm_infer *s, const llm_exec *xr, int n) {
  size_t H = (size_t)s->cfg->n_hidden;
  if (!s->tr->gated) {
    llm_gelu_forward(xr, s->act, s->fch, (size_t)n * H);
    return;
  }
  if (!s->tr->gelu) {
    llm_swiglu_forward(xr, s->act, s->fch, (size_t)n, (int)H);
    return;
  }
  for (int r = 0; r < n; r++) {
    const float *g = s->fch + (size_t)r * 2 * H, *u = g + H;
    float *o = s->act + (size_t)r * H;
    llm_vgelu(s->simd, o, g, H);
    for (size_t i = 0; i < H; i++) o[i] *= u[i];
  }
}

/* A part's keys and values (in the pass's qkv rows) into its sequence's
** cache at layer l, as floats or rounded to halves. */
static void kv_store(const pass_ctx *pc, const part *pt, int l) {
  const llm_infer *ws = pc->ws;
  llm_infer *s = pt->s;
  size_t KW = (size_t)ws->kw, HD = (size_t)ws->hd, NKV = (size_t)ws->cfg->n_kv_head;
  for (int j = 0; j < pt->n; j++) {
    const float *k = ws->qkv + (size_t)(pt->r0 + j) * (size_t)ws->qkvw + ws->qw, *v = k + KW;
    for (size_t g = 0; g < NKV; g++, k += HD, v += HD) {
      size_t at = (((size_t)l * NKV + g) * s->kv_cap + (size_t)s->pos + (size_t)j) * HD;
      if (s->kv_type == LLM_KV_F16) {
        uint16_t *kh = (uint16_t *)s->k + at, *vh = (uint16_t *)s->v + at;
        for (size_t e = 0; e < HD; e++) kh[e] = llm_f32_to_f16(k[e]), vh[e] = llm_f32_to_f16(v[e]);
      } else {
        memcpy((float *)s->k + at, k, HD * sizeof *k);
        memcpy((float *)s->v + at, v, HD * sizeof *v);
      }
    }
  }
}

static void layer_forward(const pass_ctx *pc, int l, const llm_exec *xr, llm_pool *pool) {
  llm_infer *s = pc->ws;
  const llm_config *c = s->cfg;
  const llm_arch_traits *tr = s->tr;
  const llm_net_layer *y = &s->net->layers[l];
  int C = c->n_embd, QW = s->qw, QKVW = s->qkvw, n = pc->rows;
  /* attention */
  const float *in = s->x;
  if (!tr->post_norm) {
    norm(s, xr, s->ln, s->x, y->attn_norm, y->attn_norm_b, n, C);
    in = s->ln;
  }
  const llm_wmat qkv[3] = {y->q, y->k, y->v};
  const float *const qkv_b[3] = {y->bq, y->bk, y->bv};
  linear_group(s, pool, s->qkv, (size_t)QKVW, in, n, qkv, qkv_b, 3);
  if (y->q_norm) head_norm(s, s->qkv, (size_t)QKVW, n, c->n_head, y->q_norm);
  if (y->k_norm) head_norm(s, s->qkv + QW, (size_t)QKVW, n, c->n_kv_head, y->k_norm);
  if (tr->rope) {
    int b = y->local && s->n_rope > 1;
    rope_apply(s, s->qkv, (size_t)QKVW, n, c->n_head, b);
    rope_apply(s, s->qkv + QW, (size_t)QKVW, n, c->n_kv_head, b);
  }
  for (int i = 0; i < pc->count; i++) kv_store(pc, &pc->parts[i], l);
  attention(pc, l, y->local ? c->sliding_window : 0, pool);
  if (y->attn_post_norm) {
    linear(s, pool, s->tmp, (size_t)C, s->atty, n, &y->o, y->bo, 0);
    llm_rmsnorm_forward(xr, s->tmp, s->rstd, s->tmp, y->attn_post_norm, (size_t)n, C, c->norm_eps);
    llm_vadd(s->simd, s->x, s->tmp, (size_t)n * C);
  } else {
    linear(s, pool, s->x, (size_t)C, s->atty, n, &y->o, y->bo, 1);
  }
  if (tr->post_norm) norm(s, xr, s->x, s->x, y->attn_norm, y->attn_norm_b, n, C);
  /* MLP */
  in = s->x;
  if (!tr->post_norm) {
    norm(s, xr, s->ln, s->x, y->ffn_norm, y->ffn_norm_b, n, C);
    in = s->ln;
  }
  const llm_wmat gu[2] = {y->gate, y->up};
  const float *const gu_b[2] = {y->b_gate, y->b_up};
  if (tr->gated)
    linear_group(s, pool, s->fch, (size_t)s->fw, in, n, gu, gu_b, 2);
  else
    linear(s, pool, s->fch, (size_t)s->fw, in, n, &y->up, y->b_up, 0);
  mlp_activation(s, xr, n);
  if (y->ffn_post_norm) {
    linear(s, pool, s->tmp, (size_t)C, s->act, n, &y->down, y->b_down, 0);
    llm_rmsnorm_forward(xr, s->tmp, s->rstd, s->tmp, y->ffn_post_norm, (size_t)n, C, c->norm_eps);
    llm_vadd(s->simd, s->x, s->tmp, (size_t)n * C);
  } else {
    linear(s, pool, s->x, (size_t)C, s->act, n, &y->down, y->b_down, 1);
  }
  if (tr->post_norm) norm(s, xr, s->x, s->x, y->ffn_norm, y->ffn_norm_b, n, C);
}

/* x[r] = the embedding of tokens[r] at position row_pos[r]. */
static void embed_tokens(llm_infer *s, const int32_t *tokens, int n, const llm_exec *xr) {
  const llm_net *net = s->net;
  const llm_config *c = s->cfg;
  size_t C = (size_t)c->n_embd;
  for (int i = 0; i < n; i++) {
    float *x = s->x + (size_t)i * C;
    llm_wmat_rows(&net->tok_embd, tokens[i], tokens[i] + 1, x);
    if (s->tr->embd_scale) llm_vscale(s->simd, x, C, sqrtf((float)C));
    if (net->pos_embd.data) {
      llm_wmat_rows(&net->pos_embd, s->row_pos[i], s->row_pos[i] + 1, s->tmp);
      llm_vadd(s->simd, x, s->tmp, C);
    }
    if (net->type_embd.data) { /* every token is of type 0 */
      llm_wmat_rows(&net->type_embd, 0, 1, s->tmp);
      llm_vadd(s->simd, x, s->tmp, C);
    }
  }
  if (net->embd_norm) norm(s, xr, s->x, s->x, net->embd_norm, net->embd_norm_b, n, (int)C);
}

/* One pass of the parts' rows (tokens[r] for row r, pc->rows in all):
** each part's final states into its sequence's hidden rows at part.at. */
static void pass(const pass_ctx *pc, const int32_t *tokens, llm_pool *pool) {
  llm_infer *s = pc->ws;
  const llm_config *c = s->cfg;
  size_t C = (size_t)c->n_embd;
  /* row-wise work is worth the pool only for a batch of rows */
  llm_exec xr = {pc->rows > 1 ? pool : NULL, s->simd};
  for (int i = 0; i < pc->count; i++)
    for (int j = 0; j < pc->parts[i].n; j++) s->row_pos[pc->parts[i].r0 + j] = pc->parts[i].s->pos + j;
  embed_tokens(s, tokens, pc->rows, &xr);
  if (s->tr->rope) rope_angles(s, pc->rows);
  for (int l = 0; l < c->n_layer; l++) layer_forward(pc, l, &xr, pool);
  for (int i = 0; i < pc->count; i++) {
    const part *pt = &pc->parts[i];
    float *h = pt->s->hidden + pt->at * C;
    const float *x = s->x + (size_t)pt->r0 * C;
    llm_exec xp = {pt->n > 1 ? pool : NULL, s->simd};
    if (s->net->out_norm)
      norm(s, &xp, h, x, s->net->out_norm, s->net->out_norm_b, pt->n, (int)C);
    else
      memcpy(h, x, (size_t)pt->n * C * sizeof *h);
    pt->s->pos += pt->n;
  }
}

/* Checks one sequence's call and makes room in its cache and hidden
** states. */
static int seq_prepare(llm_infer *s, const llm_infer *ws, const int32_t *tokens, int n, llm_err *err) {
  const llm_config *c = s->cfg;
  if (s->net != ws->net) return llm_fail(err, LLM_EINVAL, "the sequences of a batch must share one model");
  if (n < 1 || n > c->block_size - s->pos)
    return llm_fail(err, LLM_EINVAL, "%d tokens do not fit: %d of the context's %d positions are in use", n,
                    s->pos, c->block_size);
  if (!s->tr->causal && s->pos)
    return llm_fail(err, LLM_EINVAL, "an encoder takes all its tokens in one forward (after a reset)");
  for (int i = 0; i < n; i++)
    if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
      return llm_fail(err, LLM_EINVAL, "token %d = %ld is not an id in [0, %d)", i, (long)tokens[i],
                      c->vocab_size);
  if (ensure_kv(s, (size_t)(s->pos + n), err)) return err->code;
  if (ensure(&s->hidden, &s->hidden_cap, (size_t)n * (size_t)c->n_embd))
    return llm_fail(err, LLM_ENOMEM, "out of memory for the states of %d tokens", n);
  return LLM_OK;
}

int llm_infer_forward_batch(llm_infer *ws, llm_infer *const *seqs, const int32_t *const *tokens, const int *n,
                            int count, llm_pool *pool, llm_err *err) {
  const llm_config *c = ws->cfg;
  if (count < 1) return llm_fail(err, LLM_EINVAL, "a batch needs at least one sequence");
  int ub = ws->tr->causal ? UB : c->block_size, total = 0, half = 0;
  size_t kv_max = 0;
  for (int i = 0; i < count; i++) {
    if (seq_prepare(seqs[i], ws, tokens[i], n[i], err)) return err->code;
    total += n[i] < ub ? n[i] : ub;
    if (seqs[i]->kv_cap > kv_max) kv_max = seqs[i]->kv_cap;
    half |= seqs[i]->kv_type == LLM_KV_F16 && n[i] > 1;
  }
  size_t stride = QB * kv_max + (half ? 2 * kv_max * (size_t)ws->hd : 0);
  size_t threads = (size_t)llm_pool_threads(pool);
  int32_t *toks = llm_malloc((size_t)total * sizeof *toks);
  part *parts = llm_malloc((size_t)count * sizeof *parts);
  if (!toks || !parts || ensure_rows(ws, (size_t)total, err) ||
      ensure(&ws->att, &ws->att_cap, threads * stride) || lin_scratch(ws, (size_t)total)) {
    llm_free(toks);
    llm_free(parts);
    return llm_fail(err, LLM_ENOMEM, "out of memory for the scratch of %d tokens", total);
  }
  ws->att_stride = stride;
  ws->att_kv = kv_max;
  /* passes of at most ub rows of each sequence: a sequence's rows go in
  ** the same passes whatever else runs beside it */
  for (int done = 0;; done += ub) {
    pass_ctx pc = {ws, parts, 0, 0};
    for (int i = 0; i < count; i++) {
      if (n[i] <= done) continue;
      int m = n[i] - done < ub ? n[i] - done : ub;
      parts[pc.count++] = (part){seqs[i], pc.rows, m, (size_t)done};
      memcpy(toks + pc.rows, tokens[i] + done, (size_t)m * sizeof *toks);
      pc.rows += m;
    }
    if (!pc.count) break;
    pass(&pc, toks, pool);
  }
  llm_free(toks);
  llm_free(parts);
  return LLM_OK;
}

int llm_infer_forward(llm_infer *s, const int32_t *tokens, int n, llm_pool *pool, llm_err *err) {
  return llm_infer_forward_batch(s, &s, &tokens, &n, 1, pool, err);
}

const float *llm_infer_logits_batch(llm_infer *ws, llm_infer *const *seqs, const int *rows, int count,
                                    llm_pool *pool) {
  const llm_config *c = ws->cfg;
  size_t C = (size_t)c->n_embd, V = (size_t)c->vocab_size;
  llm_err err;
  if (ensure_rows(ws, (size_t)count, &err) || ensure(&ws->logits_many, &ws->many_cap, (size_t)count * V) ||
      lin_scratch(ws, (size_t)count))
    return NULL;
  for (int i = 0; i < count; i++) memcpy(ws->ln + (size_t)i * C, seqs[i]->hidden + (size_t)rows[i] * C, C * sizeof(float));
  linear(ws, pool, ws->logits_many, V, ws->ln, count, &ws->net->output, NULL, 0);
  return ws->logits_many;
}

const float *llm_infer_logits(llm_infer *s, int row0, int nrows, llm_pool *pool) {
  const llm_config *c = s->cfg;
  /* (allocated on first use: the sequences of a batch never need them) */
  if (!s->logits && !(s->logits = llm_malloc((size_t)LLM_INFER_LOGIT_ROWS * (size_t)c->vocab_size * sizeof(float))))
    return NULL;
  if (lin_scratch(s, (size_t)nrows)) return NULL;
  linear(s, pool, s->logits, (size_t)c->vocab_size, s->hidden + (size_t)row0 * c->n_embd, nrows,
         &s->net->output, NULL, 0);
  return s->logits;
}
