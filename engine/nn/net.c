/*
** net.c: architecture traits, inference configurations, and the weight
** views of net.h, from GGUF-named tensors or from a model trained here.
*/
#include "nn/net.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/qpack.h"
#include "kernels/qtypes.h"

/* Indexed by LLM_ARCH_*: name, layer_norm, post_norm, gated, gelu, causal,
** rope, qk_norm, sandwich, embd_scale, embd_norm, token_types, decoder. */
static const llm_arch_traits TRAITS[LLM_ARCH_COUNT] = {
    [LLM_ARCH_GPT] = {"gpt2", 1, 0, 0, 1, 1, LLM_ROPE_NONE, 0, 0, 0, 0, 0, 1},
    [LLM_ARCH_LLAMA] = {"llama", 0, 0, 1, 0, 1, LLM_ROPE_PAIRS, 0, 0, 0, 0, 0, 1},
    [LLM_ARCH_QWEN2] = {"qwen2", 0, 0, 1, 0, 1, LLM_ROPE_HALVES, 0, 0, 0, 0, 0, 1},
    [LLM_ARCH_QWEN3] = {"qwen3", 0, 0, 1, 0, 1, LLM_ROPE_HALVES, 1, 0, 0, 0, 0, 1},
    [LLM_ARCH_GEMMA3] = {"gemma3", 0, 0, 1, 1, 1, LLM_ROPE_HALVES, 1, 1, 1, 0, 0, 1},
    [LLM_ARCH_BERT] = {"bert", 1, 1, 0, 1, 0, LLM_ROPE_NONE, 0, 0, 0, 1, 1, 0},
    [LLM_ARCH_NOMIC_BERT] = {"nomic-bert", 1, 1, 1, 0, 0, LLM_ROPE_HALVES, 0, 0, 0, 1, 1, 0},
};

const llm_arch_traits *llm_arch_traits_get(int arch) {
  return arch >= 0 && arch < LLM_ARCH_COUNT ? &TRAITS[arch] : NULL;
}

/* Models trained here call GPT "gpt" (their config's "arch"); GGUF calls
** it "gpt2". */
const char *llm_arch_name(int arch) {
  return arch == LLM_ARCH_GPT ? "gpt" : arch > 0 && arch < LLM_ARCH_COUNT ? TRAITS[arch].name : "(unknown)";
}

int llm_arch_by_name(const char *name) {
  if (!strcmp(name, "gpt")) return LLM_ARCH_GPT;
  for (int a = 0; a < LLM_ARCH_COUNT; a++)
    if (!strcmp(name, TRAITS[a].name)) return a;
  return -1;
}


int llm_net_head_dim(const llm_config *c) { return c->head_dim ? c->head_dim : c->n_embd / c->n_head; }

int llm_net_config_check(llm_config *c, llm_err *err) {
  const llm_arch_traits *tr = llm_arch_traits_get(c->arch);
  if (!tr) return llm_fail(err, LLM_EINVAL, "unknown architecture %d", c->arch);
  if (c->n_kv_head == 0) c->n_kv_head = c->n_head;
  struct { const char *name; int32_t v, max; } f[] = {
      {"n_layer", c->n_layer, LLM_MAX_LAYERS},       {"n_embd", c->n_embd, LLM_MAX_EMBD},
      {"n_head", c->n_head, LLM_MAX_EMBD},           {"n_kv_head", c->n_kv_head, LLM_MAX_EMBD},
      {"n_hidden", c->n_hidden, 16 * LLM_MAX_EMBD}, {"context length", c->block_size, LLM_MAX_CONTEXT},
      {"vocab_size", c->vocab_size, INT32_MAX},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (f[i].v < 1 || f[i].v > f[i].max)
      return llm_fail(err, LLM_EINVAL, "%s must be in [1, %ld] (got %ld)", f[i].name, (long)f[i].max,
                      (long)f[i].v);
  if (c->n_kv_head < 1 || c->n_head % c->n_kv_head)
    return llm_fail(err, LLM_EINVAL, "the head count (%d) must be a multiple of the key/value head count (%d)",
                    c->n_head, c->n_kv_head);
  if (!c->head_dim && c->n_embd % c->n_head)
    return llm_fail(err, LLM_EINVAL, "n_embd (%d) must be divisible by n_head (%d)", c->n_embd, c->n_head);
  int hd = llm_net_head_dim(c);
  if (hd < 1 || hd > LLM_MAX_EMBD || (int64_t)hd * c->n_head > 4 * LLM_MAX_EMBD)
    return llm_fail(err, LLM_EINVAL, "head size %d is out of range", hd);
  c->head_dim = hd;
  if (tr->rope) {
    if (!c->n_rot) c->n_rot = hd;
    if (c->n_rot < 2 || c->n_rot > hd || c->n_rot % 2)
      return llm_fail(err, LLM_EINVAL, "rotary dimensions (%d) must be even and in [2, head size %d]",
                      c->n_rot, hd);
    if (c->rope_theta == 0) c->rope_theta = 10000.0f;
    if (c->rope_theta_local == 0) c->rope_theta_local = c->rope_theta;
    if (c->rope_scale == 0) c->rope_scale = 1.0f;
    if (!(c->rope_theta >= 1 && c->rope_theta < 1e12f) || !(c->rope_theta_local >= 1 && c->rope_theta_local < 1e12f))
      return llm_fail(err, LLM_EINVAL, "the rotary base must be in [1, 1e12) (got %g)", (double)c->rope_theta);
    if (!(c->rope_scale > 0 && c->rope_scale <= 1e6f))
      return llm_fail(err, LLM_EINVAL, "the rotary scale factor must be in (0, 1e6] (got %g)", (double)c->rope_scale);
  } else if (c->n_rot) {
    return llm_fail(err, LLM_EINVAL, "the %s architecture has no rotary embeddings", llm_arch_name(c->arch));
  }
  if (c->norm_eps == 0) c->norm_eps = 1e-5f;
  if (!(c->norm_eps > 0 && c->norm_eps < 1))
    return llm_fail(err, LLM_EINVAL, "norm_eps must be in (0, 1) (got %g)", (double)c->norm_eps);
  if (c->attn_scale == 0) c->attn_scale = 1.0f / sqrtf((float)hd);
  if (!(c->attn_scale > 0 && c->attn_scale < 1e3f))
    return llm_fail(err, LLM_EINVAL, "the attention scale must be in (0, 1e3) (got %g)", (double)c->attn_scale);
  if (c->sliding_window < 0 || c->swa_period < 0)
    return llm_fail(err, LLM_EINVAL, "the sliding window and its period must not be negative");
  if (c->tied_head == 0) c->tied_head = 1;
  if (c->tied_head != 1 && c->tied_head != -1) return llm_fail(err, LLM_EINVAL, "tied_head must be 1 or -1");
  if (c->pooling < LLM_POOL_DEFAULT || c->pooling > LLM_POOL_CLS)
    return llm_fail(err, LLM_EINVAL, "unknown pooling %d", c->pooling);
  return LLM_OK;
}

/* ---- views from GGUF-named tensors ------------------------------------ */

typedef struct finder {
  llm_net_find find;
  void *ctx;
  llm_err *err;
  int64_t max_cols;
} finder;

/* A tensor by name: 1 found (into *t), 0 absent (an error when required),
** -1 on error. */
static int get(finder *f, const char *name, int required, llm_net_tensor *t) {
  memset(t, 0, sizeof *t);
  if (f->find(f->ctx, name, t)) return 1;
  if (required) llm_fail(f->err, LLM_EINVAL, "the model has no tensor '%s'", name);
  return required ? -1 : 0;
}

static int shape_error(finder *f, const char *name, const llm_net_tensor *t, int64_t a, int64_t b) {
  char got[96] = "";
  for (int d = 0; d < t->n_dims && d < 4; d++)
    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->ne[d]);
  if (b)
    return llm_fail(f->err, LLM_EINVAL, "tensor '%s' has dimensions [%s]; the configuration needs [%lld, %lld]",
                    name, got, (long long)a, (long long)b);
  return llm_fail(f->err, LLM_EINVAL, "tensor '%s' has dimensions [%s]; the configuration needs [%lld]", name,
                  got, (long long)a);
}

/* float32 data must sit at multiples of 4 bytes (the products and norms
** read floats); the other types are read byte by byte. A GGUF file may
** align its tensors to 1 or 2 bytes: loaded into memory of our own (as the
** extension does) they are aligned again. */
static int misaligned(const void *p) { return p && ((uintptr_t)p & 3); }

static int misaligned_error(finder *f, const char *name) {
  return llm_fail(f->err, LLM_EINVAL, "tensor '%s' (f32) is not 4-byte aligned in memory", name);
}

/* A matrix [rows, cols] (GGUF ne {cols, rows}). */
static int mat(finder *f, llm_wmat *w, const char *name, int64_t rows, int64_t cols, int required) {
  llm_net_tensor t;
  int found = get(f, name, required, &t);
  memset(w, 0, sizeof *w);
  if (found <= 0) return found < 0 ? f->err->code : LLM_OK;
  if (t.n_dims != 2 || t.ne[0] != cols || t.ne[1] != rows) return shape_error(f, name, &t, cols, rows);
  if (llm_wmat_init(w, name, t.data, t.type, rows, cols, f->err)) return f->err->code;
  if (t.type == LLM_QTYPE_F32 && misaligned(t.data)) return misaligned_error(f, name);
  if (cols > f->max_cols) f->max_cols = cols;
  return LLM_OK;
}

/* A float32 vector of n. */
static int vec(finder *f, const float **v, const char *name, int64_t n, int required) {
  llm_net_tensor t;
  int found = get(f, name, required, &t);
  *v = NULL;
  if (found <= 0) return found < 0 ? f->err->code : LLM_OK;
  if (t.n_dims != 1 || t.ne[0] != n) return shape_error(f, name, &t, n, 0);
  if (t.type != LLM_QTYPE_F32) {
    const llm_qtype *q = llm_qtype_get(t.type);
    return llm_fail(f->err, LLM_EINVAL, "tensor '%s' is %s; vectors must be f32", name, q ? q->name : "unknown");
  }
  if (misaligned(t.data)) return misaligned_error(f, name);
  *v = t.data;
  return LLM_OK;
}

/* name of layer l's tensor: "blk.<l>.<what>.<kind>" */
static const char *lname(char *buf, size_t n, int l, const char *what, const char *kind) {
  snprintf(buf, n, "blk.%d.%s.%s", l, what, kind);
  return buf;
}

static int layer_from_tensors(finder *f, const llm_net *net, int l, llm_net_layer *y) {
  const llm_config *c = &net->cfg;
  const llm_arch_traits *tr = net->tr;
  int64_t C = c->n_embd, H = c->n_hidden, HD = c->head_dim;
  int64_t QW = HD * c->n_head, KW = HD * c->n_kv_head;
  char n[64];
#define W(field, what, rows, cols, req) mat(f, &y->field, lname(n, sizeof n, l, what, "weight"), rows, cols, req)
#define V(field, what, kind, len, req) vec(f, &y->field, lname(n, sizeof n, l, what, kind), len, req)
  int ln = tr->layer_norm;
  const char *attn_norm = tr->post_norm ? "attn_output_norm" : "attn_norm";
  const char *ffn_norm = tr->post_norm ? "layer_output_norm" : "ffn_norm";
  if (V(attn_norm, attn_norm, "weight", C, 1) || V(attn_norm_b, attn_norm, "bias", C, ln) ||
      V(ffn_norm, ffn_norm, "weight", C, 1) || V(ffn_norm_b, ffn_norm, "bias", C, ln))
    return f->err->code;
  llm_net_tensor t;
  int fused = get(f, lname(n, sizeof n, l, "attn_qkv", "weight"), 0, &t);
  if (fused) {
    /* one [q; k; v] matrix: views of its row ranges */
    llm_wmat qkv;
    const float *b = NULL;
    if (W(q, "attn_qkv", QW + 2 * KW, C, 1) || V(bq, "attn_qkv", "bias", QW + 2 * KW, 0)) return f->err->code;
    qkv = y->q;
    b = y->bq;
    y->q.rows = QW;
    y->k = y->v = y->q;
    y->k.rows = y->v.rows = KW;
    if (qkv.data) {
      y->k.data = (const char *)qkv.data + (size_t)QW * qkv.row_bytes;
      y->v.data = (const char *)qkv.data + (size_t)(QW + KW) * qkv.row_bytes;
    }
    if (b) y->bk = b + QW, y->bv = b + QW + KW;
  } else if (W(q, "attn_q", QW, C, 1) || W(k, "attn_k", KW, C, 1) || W(v, "attn_v", KW, C, 1) ||
             V(bq, "attn_q", "bias", QW, 0) || V(bk, "attn_k", "bias", KW, 0) || V(bv, "attn_v", "bias", KW, 0)) {
    return f->err->code;
  }
  if (W(o, "attn_output", C, QW, 1) || V(bo, "attn_output", "bias", C, 0) ||
      V(q_norm, "attn_q_norm", "weight", HD, tr->qk_norm) || V(k_norm, "attn_k_norm", "weight", HD, tr->qk_norm) ||
      V(attn_post_norm, "post_attention_norm", "weight", C, tr->sandwich) ||
      W(gate, "ffn_gate", H, C, tr->gated) || V(b_gate, "ffn_gate", "bias", H, 0) ||
      W(up, "ffn_up", H, C, 1) || V(b_up, "ffn_up", "bias", H, 0) ||
      W(down, "ffn_down", C, H, 1) || V(b_down, "ffn_down", "bias", C, 0) ||
      V(ffn_post_norm, "post_ffw_norm", "weight", C, tr->sandwich))
    return f->err->code;
#undef W
#undef V
  y->local = llm_config_layer_local(c, l);
  return LLM_OK;
}

int llm_net_from_tensors(llm_net *net, const llm_config *cfg, llm_net_find find, void *ctx, llm_err *err) {
  memset(net, 0, sizeof *net);
  net->cfg = *cfg;
  llm_config *c = &net->cfg;
  int rc = llm_net_config_check(c, err);
  if (rc) return rc;
  const llm_arch_traits *tr = net->tr = llm_arch_traits_get(c->arch);
  finder f = {find, ctx, err, 0};
  int64_t C = c->n_embd, V = c->vocab_size;
  llm_net_tensor t;
  int has_types = tr->token_types ? get(&f, "token_types.weight", 0, &t) : 0;
  if (has_types < 0) return err->code;
  if (has_types && t.n_dims == 2 && t.ne[1] >= 1 && t.ne[1] <= 1024) c->n_token_types = (int32_t)t.ne[1];
  if (mat(&f, &net->tok_embd, "token_embd.weight", V, C, 1) ||
      (tr->rope == LLM_ROPE_NONE && mat(&f, &net->pos_embd, "position_embd.weight", c->block_size, C, 1)) ||
      (has_types && mat(&f, &net->type_embd, "token_types.weight", c->n_token_types ? c->n_token_types : 1, C, 1)) ||
      (tr->embd_norm && (vec(&f, &net->embd_norm, "token_embd_norm.weight", C, 1) ||
                         vec(&f, &net->embd_norm_b, "token_embd_norm.bias", C, 1))) ||
      (!tr->post_norm && (vec(&f, &net->out_norm, "output_norm.weight", C, 1) ||
                          vec(&f, &net->out_norm_b, "output_norm.bias", C, tr->layer_norm))) ||
      (tr->rope && vec(&f, &net->rope_freqs, "rope_freqs.weight", c->n_rot / 2, 0)))
    return err->code;
  if (tr->decoder) {
    if ((rc = mat(&f, &net->output, "output.weight", V, C, 0))) return rc;
    c->tied_head = net->output.rows ? -1 : 1;
    if (c->tied_head == 1) net->output = net->tok_embd;
  }
  net->layers = llm_calloc((size_t)c->n_layer, sizeof *net->layers);
  if (!net->layers) return llm_fail(err, LLM_ENOMEM, "out of memory");
  for (int l = 0; l < c->n_layer; l++)
    if ((rc = layer_from_tensors(&f, net, l, &net->layers[l]))) {
      llm_net_free(net);
      return rc;
    }
  net->max_cols = f.max_cols;
  return LLM_OK;
}

/* ---- views of a model trained here ------------------------------------ */

/* Rows [r0, r0 + rows) of layer l's slice of a stacked [L, R, cols] tensor. */
static llm_wmat slice(const float *p, const llm_tensor *t, int l, int64_t r0, int64_t rows) {
  int64_t R = t->shape[1], cols = t->shape[2];
  return llm_wmat_f32(p + t->offset + ((size_t)l * (size_t)R + (size_t)r0) * (size_t)cols, rows, cols);
}

static const float *vslice(const float *p, const llm_tensor *t, int l, int64_t at) {
  return t ? p + t->offset + (size_t)l * (size_t)t->shape[1] + (size_t)at : NULL;
}

int llm_net_from_model(llm_net *net, const llm_model *m, llm_err *err) {
  memset(net, 0, sizeof *net);
  net->cfg = *llm_model_config(m);
  llm_config *c = &net->cfg;
  int rc = llm_net_config_check(c, err);
  if (rc) return rc;
  net->tr = llm_arch_traits_get(c->arch);
  const float *p = llm_model_params((llm_model *)m);
  int gpt = c->arch == LLM_ARCH_GPT;
  int64_t C = c->n_embd, H = c->n_hidden, QW = (int64_t)c->head_dim * c->n_head;
  int64_t KW = (int64_t)c->head_dim * c->n_kv_head;
#define T(name) llm_model_find(m, name)
  net->tok_embd = llm_wmat_f32(p + T("wte")->offset, c->vocab_size, C);
  if (gpt) net->pos_embd = llm_wmat_f32(p + T("wpe")->offset, c->block_size, C);
  const llm_tensor *head = T("lm_head.weight"), *freqs = T("rope_freqs");
  net->output = head ? llm_wmat_f32(p + head->offset, c->vocab_size, C) : net->tok_embd;
  net->rope_freqs = freqs ? p + freqs->offset : NULL;
  const llm_tensor *nw = T(gpt ? "lnf.weight" : "norm.weight"), *nb = T("lnf.bias");
  net->out_norm = p + nw->offset;
  net->out_norm_b = nb ? p + nb->offset : NULL;
  net->layers = llm_calloc((size_t)c->n_layer, sizeof *net->layers);
  if (!net->layers) return llm_fail(err, LLM_ENOMEM, "out of memory");
  const llm_tensor *qkv = T("blocks.attn.qkv.weight"), *qkvb = T("blocks.attn.qkv.bias");
  const llm_tensor *qn = T("blocks.attn.q_norm.weight"), *kn = T("blocks.attn.k_norm.weight");
  const llm_tensor *proj = T("blocks.attn.proj.weight"), *projb = T("blocks.attn.proj.bias");
  const llm_tensor *post1 = T("blocks.attn_post_norm.weight"), *post2 = T("blocks.mlp_post_norm.weight");
  const llm_tensor *fc = T("blocks.mlp.fc.weight"), *fcb = T("blocks.mlp.fc.bias");
  const llm_tensor *down = T("blocks.mlp.proj.weight"), *downb = T("blocks.mlp.proj.bias");
  const llm_tensor *n1 = T(gpt ? "blocks.ln1.weight" : "blocks.attn_norm.weight"), *n1b = T("blocks.ln1.bias");
  const llm_tensor *n2 = T(gpt ? "blocks.ln2.weight" : "blocks.mlp_norm.weight"), *n2b = T("blocks.ln2.bias");
#undef T
  for (int l = 0; l < c->n_layer; l++) {
    llm_net_layer *y = &net->layers[l];
    y->attn_norm = vslice(p, n1, l, 0);
    y->attn_norm_b = vslice(p, n1b, l, 0);
    y->q = slice(p, qkv, l, 0, QW);
    y->k = slice(p, qkv, l, QW, KW);
    y->v = slice(p, qkv, l, QW + KW, KW);
    y->bq = vslice(p, qkvb, l, 0);
    y->bk = vslice(p, qkvb, l, QW);
    y->bv = vslice(p, qkvb, l, QW + KW);
    y->q_norm = vslice(p, qn, l, 0);
    y->k_norm = vslice(p, kn, l, 0);
    y->o = slice(p, proj, l, 0, C);
    y->bo = vslice(p, projb, l, 0);
    y->attn_post_norm = vslice(p, post1, l, 0);
    y->ffn_norm = vslice(p, n2, l, 0);
    y->ffn_norm_b = vslice(p, n2b, l, 0);
    if (gpt) {
      y->up = slice(p, fc, l, 0, H);
      y->b_up = vslice(p, fcb, l, 0);
    } else {
      y->gate = slice(p, fc, l, 0, H);
      y->up = slice(p, fc, l, H, H);
    }
    y->down = slice(p, down, l, 0, C);
    y->b_down = vslice(p, downb, l, 0);
    y->ffn_post_norm = vslice(p, post2, l, 0);
    y->local = llm_config_layer_local(c, l);
  }
  int64_t widest = H > C ? H : C;
  net->max_cols = QW > widest ? QW : widest;
  return LLM_OK;
}

/* ---- listing the tensors ------------------------------------------------ */

typedef struct lister {
  llm_net_visit visit;
  void *ctx;
} lister;

static int list_mat(const lister *L, const char *name, const llm_wmat *w) {
  if (!w->data) return 0;
  llm_net_tensor t = {w->data, w->type, 2, {w->cols, w->rows, 1, 1}, w->packed};
  return L->visit(L->ctx, name, &t);
}

static int list_vec(const lister *L, const char *name, const float *v, int64_t n) {
  if (!v) return 0;
  llm_net_tensor t = {v, LLM_QTYPE_F32, 1, {n, 1, 1, 1}, 0};
  return L->visit(L->ctx, name, &t);
}

static int list_layer(const lister *L, const llm_net *net, int l) {
  const llm_net_layer *y = &net->layers[l];
  const llm_arch_traits *tr = net->tr;
  int64_t C = net->cfg.n_embd, H = net->cfg.n_hidden, HD = net->cfg.head_dim;
  int64_t QW = HD * net->cfg.n_head, KW = HD * net->cfg.n_kv_head;
  const char *an = tr->post_norm ? "attn_output_norm" : "attn_norm", *fn = tr->post_norm ? "layer_output_norm" : "ffn_norm";
  char n[64];
  int rc;
#define M(what, w) ((rc = list_mat(L, lname(n, sizeof n, l, what, "weight"), w)))
#define V(what, kind, v, len) ((rc = list_vec(L, lname(n, sizeof n, l, what, kind), v, len)))
  if (V(an, "weight", y->attn_norm, C) || V(an, "bias", y->attn_norm_b, C)) return rc;
  if (net->cfg.arch == LLM_ARCH_GPT || net->cfg.arch == LLM_ARCH_NOMIC_BERT) {
    llm_wmat qkv = y->q;
    qkv.rows += y->k.rows + y->v.rows;
    if (M("attn_qkv", &qkv) || V("attn_qkv", "bias", y->bq, QW + 2 * KW)) return rc;
  } else if (M("attn_q", &y->q) || M("attn_k", &y->k) || M("attn_v", &y->v) || V("attn_q", "bias", y->bq, QW) ||
             V("attn_k", "bias", y->bk, KW) || V("attn_v", "bias", y->bv, KW)) {
    return rc;
  }
  if (M("attn_output", &y->o) || V("attn_output", "bias", y->bo, C) || V("attn_q_norm", "weight", y->q_norm, HD) ||
      V("attn_k_norm", "weight", y->k_norm, HD) || V("post_attention_norm", "weight", y->attn_post_norm, C) ||
      V(fn, "weight", y->ffn_norm, C) || V(fn, "bias", y->ffn_norm_b, C) || M("ffn_gate", &y->gate) ||
      V("ffn_gate", "bias", y->b_gate, H) || M("ffn_up", &y->up) || V("ffn_up", "bias", y->b_up, H) ||
      M("ffn_down", &y->down) || V("ffn_down", "bias", y->b_down, C) ||
      V("post_ffw_norm", "weight", y->ffn_post_norm, C))
    return rc;
#undef M
#undef V
  return 0;
}

int llm_net_tensors(const llm_net *net, llm_net_visit visit, void *ctx) {
  lister L = {visit, ctx};
  int64_t C = net->cfg.n_embd;
  int rc;
  if ((rc = list_mat(&L, "token_embd.weight", &net->tok_embd)) ||
      (rc = list_mat(&L, "position_embd.weight", &net->pos_embd)) ||
      (rc = list_mat(&L, "token_types.weight", &net->type_embd)) ||
      (rc = list_vec(&L, "token_embd_norm.weight", net->embd_norm, C)) ||
      (rc = list_vec(&L, "token_embd_norm.bias", net->embd_norm_b, C)) ||
      (rc = list_vec(&L, "output_norm.weight", net->out_norm, C)) ||
      (rc = list_vec(&L, "output_norm.bias", net->out_norm_b, C)) ||
      (net->output.data != net->tok_embd.data && (rc = list_mat(&L, "output.weight", &net->output))) ||
      (rc = list_vec(&L, "rope_freqs.weight", net->rope_freqs, net->cfg.n_rot / 2)))
    return rc;
  for (int l = 0; l < net->cfg.n_layer; l++)
    if ((rc = list_layer(&L, net, l))) return rc;
  return 0;
}

/* Packs the count matrices at w, all of them or (one not fitting) none. */
static int pack_all(llm_wmat *const *w, int count, int simd) {
  for (int i = 0; i < count; i++)
    if (w[i]->data && !llm_qpack_fits(w[i]->type, w[i]->rows, w[i]->cols)) return 0;
  for (int i = 0; i < count; i++)
    if (llm_wmat_pack(w[i], simd)) return -1;
  return 0;
}

int llm_net_pack(llm_net *net, int simd) {
  for (int l = 0; l < net->cfg.n_layer; l++) {
    llm_net_layer *y = &net->layers[l];
    llm_wmat *qkv[] = {&y->q, &y->k, &y->v}, *gate_up[] = {&y->gate, &y->up}, *o[] = {&y->o}, *down[] = {&y->down};
    if (pack_all(qkv, 3, simd) || pack_all(gate_up, 2, simd) || pack_all(o, 1, simd) || pack_all(down, 1, simd))
      return -1;
  }
  /* the head, and the token table with it when they are one matrix
  ** (llm_wmat_rows reads packed rows) */
  int tied = net->output.data == net->tok_embd.data;
  if (llm_wmat_pack(&net->output, simd)) return -1;
  if (tied) net->tok_embd = net->output;
  return 0;
}

void llm_net_free(llm_net *net) {
  if (!net) return;
  llm_free(net->layers);
  net->layers = NULL;
}
