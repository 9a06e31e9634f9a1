/*
** model.c: the model of model.h: configuration, the tensor table,
** initialisation, the buffers of the training pass, and its forward and
** backward over a batch split into shards (the blocks' own passes are in
** model_blocks.c).
**
** Activations live in one buffer described by a table of offsets (struct
** acts), laid out for the (B, T) of the forward and reused while it fits.
** Per-layer activations are stacked [L, ...], like the parameters. The
** backward needs only a few extra [N, *] buffers, because the gradient of
** the residual stream is one buffer that every block adds into in place
** (the residual additions' backward is the identity).
*/
#include "nn/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/model_impl.h"
#include "kernels/vec.h"

static void chunks_free(act_chunks *r) {
  for (int i = 0; i < r->n; i++) llm_free(r->mem[i]);
  r->n = 0;
}

/* ---------------------------------------------------------------------- */
/* Configuration                                                           */

/* The architectures that train here. */
static int trains(int arch) {
  return arch == LLM_ARCH_GPT || arch == LLM_ARCH_LLAMA || arch == LLM_ARCH_QWEN2 || arch == LLM_ARCH_QWEN3 ||
         arch == LLM_ARCH_GEMMA3;
}

/* The Llama family's derived sizes of a checked config. */
static family family_of(const llm_config *c) {
  family f = {llm_arch_traits_get(c->arch), 0, 0, 0, 0, 0, 0};
  f.HD = c->head_dim ? c->head_dim : c->n_embd / c->n_head;
  f.QW = f.HD * c->n_head;
  f.KW = f.HD * c->n_kv_head;
  f.Q = f.QW + 2 * f.KW;
  f.n_rot = c->n_rot ? c->n_rot : f.HD;
  f.att_scale = c->attn_scale ? c->attn_scale : 1.0f / sqrtf((float)f.HD);
  return f;
}

int llm_config_layer_local(const llm_config *c, int l) {
  return c->sliding_window > 0 && !(c->swa_period > 0 && (l + 1) % c->swa_period == 0);
}

/* The Llama family's own fields (their 0 means the default). */
static int family_check(const llm_config *c, llm_err *err) {
  if (c->head_dim < 0 || c->head_dim > LLM_MAX_EMBD || (c->head_dim == 0 && c->n_embd % c->n_head))
    return llm_fail(err, LLM_EINVAL, "n_embd (%d) must be divisible by n_head (%d), or head_dim given",
                    c->n_embd, c->n_head);
  family f = family_of(c);
  if ((int64_t)f.HD * c->n_head > 4 * LLM_MAX_EMBD)
    return llm_fail(err, LLM_EINVAL, "head size %d is out of range", f.HD);
  if (f.n_rot < 2 || f.n_rot > f.HD || f.n_rot % 2)
    return llm_fail(err, LLM_EINVAL, "rotary embeddings need an even number of dimensions in [2, head size %d] "
                    "(got %d)", f.HD, f.n_rot);
  if (!(c->rope_theta >= 1 && c->rope_theta < 1e12f) ||
      (c->rope_theta_local && !(c->rope_theta_local >= 1 && c->rope_theta_local < 1e12f)))
    return llm_fail(err, LLM_EINVAL, "rope_theta must be in [1, 1e12) (got %g)", (double)c->rope_theta);
  if (c->rope_scale && !(c->rope_scale > 0 && c->rope_scale <= 1e6f))
    return llm_fail(err, LLM_EINVAL, "rope_scale must be in (0, 1e6] (got %g)", (double)c->rope_scale);
  if (c->attn_scale && !(c->attn_scale > 0 && c->attn_scale < 1e3f))
    return llm_fail(err, LLM_EINVAL, "attn_scale must be in (0, 1e3) (got %g)", (double)c->attn_scale);
  if (c->sliding_window < 0 || c->swa_period < 0)
    return llm_fail(err, LLM_EINVAL, "the sliding window and its period must not be negative");
  if (c->has_rope_freqs != 0 && c->has_rope_freqs != 1)
    return llm_fail(err, LLM_EINVAL, "has_rope_freqs must be 0 or 1");
  return LLM_OK;
}

int llm_config_check(llm_config *c, llm_err *err) {
  if (!trains(c->arch))
    return llm_fail(err, LLM_EINVAL, "the %s architecture does not train here (gpt, llama, qwen2, qwen3 and "
                    "gemma3 do)", llm_arch_name(c->arch));
  int gpt = c->arch == LLM_ARCH_GPT;
  if (c->n_token_types || (gpt && (c->head_dim || c->n_rot || c->rope_scale || c->rope_theta_local ||
                                   c->sliding_window || c->attn_scale || c->has_rope_freqs)))
    return llm_fail(err, LLM_EINVAL, "this configuration runs for inference only");
  if (c->n_kv_head == 0) c->n_kv_head = c->n_head;
  /* (only from an n_embd in range, so that 4 n_embd cannot overflow) */
  if (c->n_hidden == 0 && c->n_embd > 0 && c->n_embd <= LLM_MAX_EMBD)
    c->n_hidden = 4 * c->n_embd;
  if (c->norm_eps == 0) c->norm_eps = 1e-5f;
  if (c->tied_head == 0) c->tied_head = 1;
  if (!gpt && c->rope_theta == 0) c->rope_theta = 10000.0f;
  struct { const char *name; int32_t v, max; } f[] = {
      {"n_layer", c->n_layer, LLM_MAX_LAYERS},
      {"n_embd", c->n_embd, LLM_MAX_EMBD},
      {"n_head", c->n_head, LLM_MAX_EMBD},
      {"n_kv_head", c->n_kv_head, LLM_MAX_EMBD},
      {"n_hidden", c->n_hidden, 16 * LLM_MAX_EMBD},
      /* (GPT's position embedding has block_size rows; rotary models
      ** have nothing of that size) */
      {"block_size", c->block_size, gpt ? LLM_MAX_BLOCK : LLM_MAX_CONTEXT},
      {"vocab_size", c->vocab_size, INT32_MAX},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (f[i].v < 1 || f[i].v > f[i].max)
      return llm_fail(err, LLM_EINVAL, "%s must be in [1, %ld] (got %ld)",
                      f[i].name, (long)f[i].max, (long)f[i].v);
  if (gpt && c->n_embd % c->n_head)
    return llm_fail(err, LLM_EINVAL,
                    "n_embd (%d) must be divisible by n_head (%d)", c->n_embd,
                    c->n_head);
  if (c->n_head % c->n_kv_head)
    return llm_fail(err, LLM_EINVAL,
                    "n_head (%d) must be divisible by n_kv_head (%d)",
                    c->n_head, c->n_kv_head);
  if (gpt && c->n_kv_head != c->n_head)
    return llm_fail(err, LLM_EINVAL,
                    "the GPT architecture has no grouped-query attention: "
                    "n_kv_head (%d) must equal n_head (%d)",
                    c->n_kv_head, c->n_head);
  if (c->tied_head != 1 && c->tied_head != -1)
    return llm_fail(err, LLM_EINVAL, "tied_head must be 1 or -1");
  if (c->tied_head != 1 && gpt)
    return llm_fail(err, LLM_EINVAL, "the GPT architecture ties its head");
  if (!gpt) {
    int rc = family_check(c, err);
    if (rc) return rc;
  }
  if (!(c->norm_eps > 0 && c->norm_eps < 1))
    return llm_fail(err, LLM_EINVAL, "norm_eps must be in (0, 1) (got %g)",
                    (double)c->norm_eps);
  /* Every size is below 2^31, so the count, a sum of a few products of
  ** three such numbers, is computed exactly in doubles up to 2^53. */
  double C = c->n_embd, H = c->n_hidden, L = c->n_layer, V = c->vocab_size, n;
  if (gpt) {
    n = V * C + (double)c->block_size * C + L * (4 * C * C + 2 * C * H + 9 * C + H) + 2 * C;
  } else {
    family y = family_of(c);
    n = V * C * (c->tied_head == 1 ? 1 : 2) + L * ((double)y.Q * C + (double)y.QW * C + 3 * C * H + 6 * C + y.Q + 2.0 * y.HD) +
        C + y.n_rot;
  }
  if (n * 4 * sizeof(float) > (double)SIZE_MAX || n > 9e15)
    return llm_fail(err, LLM_ERANGE,
                    "the model has too many parameters (%.3g)", n);
  return LLM_OK;
}

/* A tensor's shape: letters for the config's sizes: 'V' vocab, 'P'
** block_size, 'L' layers, 'C' n_embd, '3' 3C, 'H' n_hidden, 'G' the fused
** gate/up width 2H; the Llama family's 'Q' fused query/key/value width QW +
** 2 KW, 'O' the attention's output width QW, 'D' a head's width, 'R' half
** the rotary dimensions. */
typedef struct tensor_spec {
  const char *name;
  int ndim;
  char dims[3];
  int decay; /* a matrix or an embedding: AdamW decays it */
} tensor_spec;

static const tensor_spec GPT_SPEC[T_COUNT] = {
    {"wte", 2, {'V', 'C'}, 1},
    {"wpe", 2, {'P', 'C'}, 1},
    {"blocks.ln1.weight", 2, {'L', 'C'}, 0},
    {"blocks.ln1.bias", 2, {'L', 'C'}, 0},
    {"blocks.attn.qkv.weight", 3, {'L', '3', 'C'}, 1},
    {"blocks.attn.qkv.bias", 2, {'L', '3'}, 0},
    {"blocks.attn.proj.weight", 3, {'L', 'C', 'C'}, 1},
    {"blocks.attn.proj.bias", 2, {'L', 'C'}, 0},
    {"blocks.ln2.weight", 2, {'L', 'C'}, 0},
    {"blocks.ln2.bias", 2, {'L', 'C'}, 0},
    {"blocks.mlp.fc.weight", 3, {'L', 'H', 'C'}, 1},
    {"blocks.mlp.fc.bias", 2, {'L', 'H'}, 0},
    {"blocks.mlp.proj.weight", 3, {'L', 'C', 'H'}, 1},
    {"blocks.mlp.proj.bias", 2, {'L', 'C'}, 0},
    {"lnf.weight", 1, {'C'}, 0},
    {"lnf.bias", 1, {'C'}, 0},
};

static const tensor_spec LLAMA_SPEC[L_COUNT] = {
    {"wte", 2, {'V', 'C'}, 1},
    {"blocks.attn_norm.weight", 2, {'L', 'C'}, 0},
    {"blocks.attn.qkv.weight", 3, {'L', 'Q', 'C'}, 1},
    {"blocks.attn.qkv.bias", 2, {'L', 'Q'}, 0},
    {"blocks.attn.q_norm.weight", 2, {'L', 'D'}, 0},
    {"blocks.attn.k_norm.weight", 2, {'L', 'D'}, 0},
    {"blocks.attn.proj.weight", 3, {'L', 'C', 'O'}, 1},
    {"blocks.attn_post_norm.weight", 2, {'L', 'C'}, 0},
    {"blocks.mlp_norm.weight", 2, {'L', 'C'}, 0},
    {"blocks.mlp.fc.weight", 3, {'L', 'G', 'C'}, 1},
    {"blocks.mlp.proj.weight", 3, {'L', 'C', 'H'}, 1},
    {"blocks.mlp_post_norm.weight", 2, {'L', 'C'}, 0},
    {"norm.weight", 1, {'C'}, 0},
    {"lm_head.weight", 2, {'V', 'C'}, 1},
    {"rope_freqs", 1, {'R'}, 0},
};

/* Whether a config has Llama-family tensor i: Qwen2's q/k/v biases, the
** per-head norms, Gemma's norms after the attention and the MLP, an untied
** head, rotary frequency factors (Llama 3). */
static int family_has(const llm_config *c, int i) {
  const llm_arch_traits *tr = llm_arch_traits_get(c->arch);
  switch (i) {
  case L_QKVB: return c->arch == LLM_ARCH_QWEN2;
  case L_QNORM: case L_KNORM: return tr->qk_norm;
  case L_ATTN_POST: case L_MLP_POST: return tr->sandwich;
  case L_HEAD: return c->tied_head != 1;
  case L_FREQS: return c->has_rope_freqs;
  default: return 1;
  }
}

/* Fills the tensor table and the slots of the tensor ids; returns the
** parameter count. */
static size_t arch_tensors(const llm_config *c, llm_tensor *t, int *slot, int *n_tensors) {
  int gpt = c->arch == LLM_ARCH_GPT;
  family f = gpt ? (family){0} : family_of(c);
  int64_t V = c->vocab_size, C = c->n_embd, L = c->n_layer, H = c->n_hidden;
  const tensor_spec *spec = gpt ? GPT_SPEC : LLAMA_SPEC;
  int ids = gpt ? T_COUNT : L_COUNT, n = 0;
  size_t off = 0;
  for (int i = 0; i < ids; i++) {
    slot[i] = -1;
    if (!gpt && !family_has(c, i)) continue;
    slot[i] = n;
    llm_tensor *x = &t[n++];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", spec[i].name);
    x->ndim = spec[i].ndim;
    x->numel = 1;
    for (int d = 0; d < x->ndim; d++) {
      int ch = spec[i].dims[d];
      x->shape[d] = ch == 'V' ? V : ch == 'P' ? c->block_size : ch == 'L' ? L
                  : ch == 'C' ? C : ch == '3' ? 3 * C : ch == 'Q' ? f.Q
                  : ch == 'O' ? f.QW : ch == 'D' ? f.HD : ch == 'R' ? f.n_rot / 2
                  : ch == 'G' ? 2 * H : H;
      x->numel *= (size_t)x->shape[d];
    }
    x->decay = spec[i].decay;
    x->offset = off;
    off += x->numel;
  }
  if (n_tensors) *n_tensors = n;
  return off;
}

size_t llm_config_n_params(const llm_config *c) {
  llm_tensor t[MAX_TENSORS];
  int slot[MAX_TENSORS];
  return arch_tensors(c, t, slot, NULL);
}

/* ---------------------------------------------------------------------- */
/* Model object                                                            */

int llm_model_new(const llm_config *cfg, llm_model **out, llm_err *err) {
  *out = NULL;
  llm_config c = *cfg;
  int rc = llm_config_check(&c, err);
  if (rc) return rc;
  llm_model *m = llm_calloc(1, sizeof *m);
  if (!m) return llm_fail(err, LLM_ENOMEM, "out of memory for the model");
  m->cfg = c;
  if (c.arch != LLM_ARCH_GPT) m->f = family_of(&c);
  m->n_params = arch_tensors(&c, m->tensors, m->slot, &m->n_tensors);
  /* 64-byte aligned, so that vector loads of the weights' rows do not
  ** straddle cache lines (measured: it matters for decode, which streams
  ** them) */
  m->params_mem = m->n_params <= (SIZE_MAX - 64) / sizeof(float)
                      ? llm_calloc_streamed(m->n_params * sizeof(float) + 64) : NULL;
  m->params = m->params_mem ? (float *)(((uintptr_t)m->params_mem + 63) & ~(uintptr_t)63) : NULL;
  if (!m->params) {
    size_t n = m->n_params;
    llm_model_free(m);
    return llm_fail(err, LLM_ENOMEM, "out of memory for %zu parameters", n);
  }
  m->simd = llm_simd_best();
  m->chunk_floats = ACT_CHUNK_DEFAULT;
  *out = m;
  return LLM_OK;
}

void llm_model_free(llm_model *m) {
  if (!m) return;
  llm_free(m->params_mem);
  llm_free(m->rope[0]);
  llm_free(m->grads);
  llm_free(m->inputs);
  chunks_free(&m->chunks);
  llm_free(m->grad_mem);
  llm_free(m->att_mem);
  llm_free(m->sgrad_mem);
  llm_free(m);
}

const llm_config *llm_model_config(const llm_model *m) { return &m->cfg; }
int llm_model_n_tensors(const llm_model *m) { return m->n_tensors; }
const llm_tensor *llm_model_tensor(const llm_model *m, int i) {
  return i >= 0 && i < m->n_tensors ? &m->tensors[i] : NULL;
}
const llm_tensor *llm_model_find(const llm_model *m, const char *name) {
  for (int i = 0; i < m->n_tensors; i++)
    if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
  return NULL;
}
float *llm_model_params(llm_model *m) { return m->params; }
size_t llm_model_n_params(const llm_model *m) { return m->n_params; }
float *llm_model_grads(llm_model *m) { return m->grads; }
const float *llm_model_logits(const llm_model *m) {
  return m->fwd_ok ? m->a.logits : NULL;
}

void llm_model_init(llm_model *m, llm_rng *rng) {
  float std = 0.02f;
  /* GPT-2 scales the projections into the residual stream so that its
  ** variance does not grow with depth (two per block); so does Llama's
  ** usual initialisation. Norm gains and rotary frequency factors start
  ** at 1, biases at 0. */
  float std_res = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layer);
  int gpt = m->cfg.arch == LLM_ARCH_GPT;
  for (int i = 0; i < (gpt ? T_COUNT : L_COUNT); i++) {
    if (m->slot[i] < 0) continue;
    const llm_tensor *t = &m->tensors[m->slot[i]];
    float *p = m->params + t->offset;
    int one = gpt ? i == T_LN1W || i == T_LN2W || i == T_LNFW
                  : i == L_ATTN_NORM || i == L_MLP_NORM || i == L_NORM || i == L_QNORM || i == L_KNORM ||
                        i == L_ATTN_POST || i == L_MLP_POST || i == L_FREQS;
    int res = gpt ? i == T_PROJW || i == T_FCPW : i == L_PROJW || i == L_FCPW;
    float s = res ? std_res : std;
    for (size_t j = 0; j < t->numel; j++)
      p[j] = one ? 1.0f : t->decay ? s * llm_rng_normal(rng) : 0.0f;
  }
}

/* ---------------------------------------------------------------------- */
/* Buffer layouts                                                          */

/* Layout arithmetic saturates at SIZE_MAX, which no allocation can meet,
** so absurd shapes end in LLM_ENOMEM rather than in a wrapped size. */
static size_t mul_sat(size_t a, size_t b) {
  return a && b > SIZE_MAX / a ? SIZE_MAX : a * b;
}

/* n floats rounded up to whole 64-byte lines (saturating). */
static size_t padded16(size_t n) {
  return n > SIZE_MAX - 15 ? SIZE_MAX : (n + 15) / 16 * 16;
}

/* Adds n floats to a layout, keeping every array 64-byte aligned. */
static size_t take(size_t *total, size_t n) {
  size_t at = *total;
  size_t padded = padded16(n);
  *total = padded > SIZE_MAX - at ? SIZE_MAX : at + padded;
  return at;
}


widths model_widths(const llm_config *c) {
  size_t C = (size_t)c->n_embd, H = (size_t)c->n_hidden;
  if (c->arch == LLM_ARCH_GPT) return (widths){3 * C, C, H, 0, 0};
  family f = family_of(c);
  return (widths){(size_t)f.Q, (size_t)f.QW, 2 * H, f.tr->qk_norm ? (size_t)(c->n_head + c->n_kv_head) : 0,
                  f.tr->sandwich ? C : 0};
}

void llm_model_set_max_alloc(llm_model *m, size_t bytes) {
  /* less the alignment slack; at least one padded array's worth */
  m->chunk_floats = bytes > 128 ? (bytes - 64) / sizeof(float) / 16 * 16 : 16;
}

/* Places arrays one after another into the chunks of r, going on to the
** next chunk when one is full (ok becomes 0 when they run out); or, with
** no r, into chunks yet to be made, recording the floats each needs. */
typedef struct placer {
  const act_chunks *r;
  size_t limit; /* floats in a new chunk */
  int chunk, ok;
  size_t used;
  size_t need[ACT_MAX_CHUNKS];
} placer;

static float *place(placer *p, size_t n) {
  size_t padded = padded16(n);
  if (!p->r) {
    if (p->used && padded > p->limit - (p->used < p->limit ? p->used : p->limit)) {
      p->chunk++;
      p->used = 0;
    }
    if (p->chunk >= ACT_MAX_CHUNKS) {
      p->ok = 0;
      return NULL;
    }
    p->used = padded > SIZE_MAX - p->used ? SIZE_MAX : p->used + padded;
    p->need[p->chunk] = p->used;
    return NULL;
  }
  while (p->chunk < p->r->n && padded > p->r->cap[p->chunk] - p->used) {
    p->chunk++;
    p->used = 0;
  }
  if (p->chunk >= p->r->n) {
    p->ok = 0;
    return NULL;
  }
  float *x = p->r->base[p->chunk] + p->used;
  p->used += padded;
  return x;
}

static acts acts_layout(const llm_config *c, size_t B, size_t T, placer *p) {
  size_t N = B * T, C = (size_t)c->n_embd, L = (size_t)c->n_layer;
  size_t H = (size_t)c->n_hidden, V = (size_t)c->vocab_size;
  widths w = model_widths(c);
  acts a;
  a.encoded = place(p, N * C);
  a.ln1 = place(p, L * N * C);
  a.ln1_mean = place(p, L * N);
  a.ln1_rstd = place(p, L * N);
  a.qkv_lin = place(p, w.heads ? L * N * w.Q : 0);
  a.hn_rstd = place(p, L * N * w.heads);
  a.qkv = place(p, L * N * w.Q);
  a.att = place(p, mul_sat(L * B * (size_t)c->n_head, mul_sat(T, T)));
  a.atty = place(p, L * N * w.QW);
  a.attn_o = place(p, L * N * w.sandwich);
  a.attn_o_rstd = place(p, w.sandwich ? L * N : 0);
  a.res2 = place(p, L * N * C);
  a.ln2 = place(p, L * N * C);
  a.ln2_mean = place(p, L * N);
  a.ln2_rstd = place(p, L * N);
  a.fch = place(p, L * N * w.F);
  a.fch_gelu = place(p, L * N * H);
  a.mlp_o = place(p, L * N * w.sandwich);
  a.mlp_o_rstd = place(p, w.sandwich ? L * N : 0);
  a.res3 = place(p, L * N * C);
  a.lnf = place(p, N * C);
  a.lnf_mean = place(p, N);
  a.lnf_rstd = place(p, N);
  a.logits = place(p, N * V);
  a.lse = place(p, N);
  a.losses = place(p, N);
  return a;
}

/* Points m->a at room for the activations of (B, T): in the chunks it has
** when they are big enough, else in new ones. */
static int acts_prepare(llm_model *m, size_t B, size_t T, llm_err *err) {
  placer fit = {.r = &m->chunks, .ok = 1};
  m->a = acts_layout(&m->cfg, B, T, &fit);
  if (fit.ok) return LLM_OK;
  placer size = {.limit = m->chunk_floats, .ok = 1};
  acts_layout(&m->cfg, B, T, &size);
  chunks_free(&m->chunks);
  double total = 0;
  for (int i = 0; i <= size.chunk && i < ACT_MAX_CHUNKS; i++) total += (double)size.need[i];
  act_chunks *r = &m->chunks;
  for (int i = 0; size.ok && i <= size.chunk; i++) {
    size_t n = size.need[i];
    r->mem[i] = n <= (SIZE_MAX - 64) / sizeof(float) ? llm_malloc(n * sizeof(float) + 64) : NULL;
    if (!r->mem[i]) break;
    r->base[i] = (float *)(((uintptr_t)r->mem[i] + 63) & ~(uintptr_t)63);
    r->cap[i] = n;
    r->n = i + 1;
  }
  if (size.ok && r->n == size.chunk + 1) {
    fit = (placer){.r = r, .ok = 1};
    m->a = acts_layout(&m->cfg, B, T, &fit);
    if (fit.ok) return LLM_OK;
  }
  chunks_free(r);
  return llm_fail(err, LLM_ENOMEM, "out of memory for %.1f MB of activations",
                  total * sizeof(float) / 1e6);
}

/* The backward's buffers: dsmall takes [N, C] and the attention's output
** gradient [N, QW]; dbig the widest product's; dmid, in the Llama family,
** the gated unit's [N, H] and, with sandwich norms, the attention's output
** gradient. */
static size_t dsmall_width(const llm_config *c) {
  size_t QW = model_widths(c).QW;
  return QW > (size_t)c->n_embd ? QW : (size_t)c->n_embd;
}

static size_t dbig_width(const llm_config *c) {
  widths w = model_widths(c);
  size_t x = w.F > w.Q ? w.F : w.Q;
  return (size_t)c->vocab_size > x ? (size_t)c->vocab_size : x;
}

static size_t dmid_width(const llm_config *c) {
  if (c->arch == LLM_ARCH_GPT) return 0;
  size_t QW = model_widths(c).QW;
  return QW > (size_t)c->n_hidden ? QW : (size_t)c->n_hidden;
}

static grad_bufs grad_layout(const llm_config *c, size_t B, size_t T) {
  size_t N = B * T, C = (size_t)c->n_embd;
  grad_bufs g;
  g.total = 0;
  g.dres = take(&g.total, N * C);
  g.dsmall = take(&g.total, N * dsmall_width(c));
  g.dbig = take(&g.total, N * dbig_width(c));
  g.dmid = take(&g.total, N * dmid_width(c));
  return g;
}

size_t llm_model_train_bytes(const llm_config *c, int B, int T) {
  if (B < 1 || T < 1) return 0;
  /* In doubles, so that absurd shapes saturate instead of wrapping. */
  double N = (double)B * T, C = c->n_embd, L = c->n_layer, H = c->n_hidden;
  double V = c->vocab_size, NH = c->n_head;
  double P = (double)llm_config_n_params(c);
  widths w = model_widths(c);
  double Q = (double)w.Q, F = (double)w.F, QW = (double)w.QW;
  double act = N * C * 3 + L * N * (4 * C + QW + Q + H + F + 4) + L * B * NH * T * T + N * (V + 4) +
               L * N * ((w.heads ? Q : 0) + (double)w.heads + 2 * (double)w.sandwich + 2);
  /* and about the attention's scratch for two threads (layers.h) */
  double HS = c->arch == LLM_ARCH_GPT ? C / NH : family_of(c).HD;
  double grad = N * (C + (double)dsmall_width(c) + (double)dbig_width(c) + (double)dmid_width(c)) +
                2 * ((T + 15.0) * (T + HS) + 3 * (HS + 15) * T);
  /* parameters, gradients, AdamW's two moments, and a second thread's
  ** gradients (its data-parallel shard's, see run_shards); the rotary
  ** tables */
  double bytes = 4 * (5 * P + act + grad) + 2 * 4 * N + 2 * 4 * (double)T * HS;
  return bytes >= (double)SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

/* Points *mem (allocated) and *aligned at room for n floats. */
static int ensure(float **mem, float **aligned, size_t *cap, size_t n) {
  if (n <= *cap) return LLM_OK;
  llm_free(*mem);
  *mem = *aligned = NULL;
  *cap = 0;
  if (n > (SIZE_MAX - 64) / sizeof(float)) return LLM_ENOMEM;
  *mem = llm_malloc(n * sizeof(float) + 64);
  if (!*mem) return LLM_ENOMEM;
  *aligned = (float *)(((uintptr_t)*mem + 63) & ~(uintptr_t)63);
  *cap = n;
  return LLM_OK;
}

static int head_size(const llm_model *m) {
  return m->cfg.arch == LLM_ARCH_GPT ? m->cfg.n_embd / m->cfg.n_head : m->f.HD;
}

/* Makes room for the attention's scratch on the pool's threads. */
static int att_scratch_prepare(llm_model *m, llm_pool *pool, llm_err *err) {
  size_t n = llm_attention_scratch(m->T, head_size(m), llm_pool_threads(pool));
  if (ensure(&m->att_mem, &m->att_scratch, &m->att_cap, n))
    return llm_fail(err, LLM_ENOMEM, "out of memory for %.1f MB of attention scratch",
                    (double)n * sizeof(float) / 1e6);
  return LLM_OK;
}

/* The rotary tables for positions [0, T): one for the global layers and
** one for the sliding-window layers (which may have another base).
** Computed at each forward (a small cost beside it), from the frequency
** factors as they are now. */
static int rope_prepare(llm_model *m, int T, llm_err *err) {
  const llm_config *c = &m->cfg;
  if (c->arch == LLM_ARCH_GPT) return LLM_OK;
  size_t per = (size_t)T * (size_t)m->f.n_rot; /* floats of one table */
  if (T > m->rope_P) {
    llm_free(m->rope[0]);
    m->rope[0] = m->rope[1] = NULL;
    m->rope_P = 0;
    if (!(m->rope[0] = llm_malloc(2 * per * sizeof(float))))
      return llm_fail(err, LLM_ENOMEM, "out of memory for the rotary tables");
    m->rope[1] = m->rope[0] + per;
    m->rope_P = T;
  }
  float *t = m->rope[0];
  const llm_tensor *fr = m->slot[L_FREQS] >= 0 ? &m->tensors[m->slot[L_FREQS]] : NULL;
  float scale = c->rope_scale ? c->rope_scale : 1.0f;
  float local = c->rope_theta_local ? c->rope_theta_local : c->rope_theta;
  llm_rope_table(t, T, m->f.n_rot, c->rope_theta, scale, fr ? m->params + fr->offset : NULL);
  llm_rope_table(t + per, T, m->f.n_rot, local, scale, fr ? m->params + fr->offset : NULL);
  m->rope[1] = t + per;
  return LLM_OK;
}

static int check_ids(const int32_t *ids, const char *what, int B, int T,
                     int V, llm_err *err) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      int32_t id = ids[(size_t)b * T + t];
      if (id < 0 || id >= V)
        return llm_fail(err, LLM_EINVAL,
                        "%s[%d][%d] = %ld is not a token id in [0, %d)", what,
                        b, t, (long)id, V);
    }
  return LLM_OK;
}

/* Checks the arguments and makes room for the activations of (B, T). */
static int forward_prepare(llm_model *m, const int32_t *inputs,
                           const int32_t *targets, int B, int T,
                           llm_err *err) {
  const llm_config *c = &m->cfg;
  if (B < 1)
    return llm_fail(err, LLM_EINVAL, "batch size B must be >= 1 (got %d)", B);
  if (T < 1 || T > c->block_size)
    return llm_fail(err, LLM_EINVAL,
                    "sequence length T must be in [1, block_size = %d] "
                    "(got %d)", c->block_size, T);
  if ((int64_t)B * T > INT32_MAX)
    return llm_fail(err, LLM_ERANGE, "B * T = %lld tokens is too many",
                    (long long)B * T);
  if (!inputs) return llm_fail(err, LLM_EINVAL, "no inputs");
  int rc = check_ids(inputs, "inputs", B, T, c->vocab_size, err);
  if (!rc && targets)
    rc = check_ids(targets, "targets", B, T, c->vocab_size, err);
  if (rc) return rc;
  size_t N = (size_t)B * T;
  if ((rc = acts_prepare(m, (size_t)B, (size_t)T, err))) return rc;
  if (2 * N > m->tok_cap) {
    llm_free(m->inputs);
    m->tok_cap = 0;
    m->inputs = llm_malloc(2 * N * sizeof(int32_t));
    if (!m->inputs)
      return llm_fail(err, LLM_ENOMEM, "out of memory for the token ids");
    m->tok_cap = 2 * N;
  }
  m->targets = m->inputs + N;
  memcpy(m->inputs, inputs, N * sizeof(int32_t));
  if (targets) memcpy(m->targets, targets, N * sizeof(int32_t));
  m->B = B;
  m->T = T;
  m->has_targets = targets != NULL;
  return LLM_OK;
}

/* Data parallelism. When the batch splits evenly over the pool's threads,
** each thread runs the whole forward and backward of its own B / threads
** sequences, every layer single-threaded, and the backward writes its own
** copy of the gradients, summed at the end in shard order. Splitting every
** layer over the threads instead meets about 150 synchronisations a step,
** at each of which the faster thread waits for the slower: on a shared
** 2-core machine that idled 7% of the large step. Otherwise (one thread,
** or a batch that does not split evenly) one shard holds all B sequences
** and each layer splits its work over the pool. */
#define MAX_SHARDS 64 /* llm_pool_new's limit */

typedef struct shard_job {
  llm_model *m;
  void (*run)(llm_model *, const shard *);
  shard sh[MAX_SHARDS];
} shard_job;

static int n_shards(int B, llm_pool *pool) {
  int t = llm_pool_threads(pool);
  return t > 1 && t <= MAX_SHARDS && B % t == 0 ? t : 1;
}

static void shard_task(void *ctx, size_t lo, size_t hi, int tid) {
  shard_job *j = ctx;
  (void)tid;
  for (size_t s = lo; s < hi; s++) j->run(j->m, &j->sh[s]);
}

/* Runs fn over the batch's shards (see above); gl is the layout of each
** shard's backward buffers (NULL in the forward). */
static void run_shards(llm_model *m, llm_pool *pool, const grad_bufs *gl,
                       void (*fn)(llm_model *, const shard *)) {
  shard_job j;
  int S = n_shards(m->B, pool);
  size_t scratch = llm_attention_scratch(m->T, head_size(m), 1);
  j.m = m;
  j.run = fn;
  for (int s = 0; s < S; s++) {
    shard *sh = &j.sh[s];
    sh->b0 = m->B / S * s;
    sh->nb = m->B / S;
    sh->x = (llm_exec){S > 1 ? NULL : pool, m->simd};
    sh->att_scratch = m->att_scratch + (size_t)s * scratch;
    sh->grads = NULL; /* (the forward has none yet) */
    sh->g = (bwd_bufs){NULL, NULL, NULL, NULL};
    if (gl) {
      float *gb = m->gbuf + (size_t)s * gl->total;
      sh->grads = s ? m->shard_grads + (size_t)(s - 1) * m->n_params : m->grads;
      sh->g = (bwd_bufs){gb + gl->dres, gb + gl->dsmall, gb + gl->dbig, gb + gl->dmid};
    }
  }
  if (S == 1)
    fn(m, &j.sh[0]);
  else
    llm_pool_for(pool, (size_t)S, shard_task, &j);
}

int llm_model_forward(llm_model *m, const int32_t *inputs,
                      const int32_t *targets, int B, int T, llm_pool *pool,
                      float *loss, llm_err *err) {
  m->fwd_ok = 0;
  int rc = forward_prepare(m, inputs, targets, B, T, err);
  if (!rc) rc = att_scratch_prepare(m, pool, err);
  if (!rc) rc = rope_prepare(m, T, err);
  if (rc) return rc;
  run_shards(m, pool, NULL, model_shard_forward);
  /* the mean over all rows, in row order: the same bits for any shards */
  double sum = 0;
  size_t N = (size_t)B * T;
  for (size_t r = 0; targets && r < N; r++) sum += m->a.losses[r];
  if (loss) *loss = targets ? (float)(sum / (double)N) : 0.0f;
  m->fwd_ok = 1;
  return LLM_OK;
}

typedef struct sum_job {
  float *dst;
  const float *src;
  size_t stride;
  int n_src;
} sum_job;

/* dst[i] += src[k * stride + i] for k = 0, 1, ...: the shards' gradients
** added in shard order. */
static void sum_task(void *ctx, size_t lo, size_t hi, int tid) {
  const sum_job *j = ctx;
  (void)tid;
  for (int k = 0; k < j->n_src; k++) {
    const float *s = j->src + (size_t)k * j->stride;
    for (size_t i = lo; i < hi; i++) j->dst[i] += s[i];
  }
}

int llm_model_backward(llm_model *m, llm_pool *pool, llm_err *err) {
  if (!m->fwd_ok || !m->has_targets)
    return llm_fail(err, LLM_EINVAL,
                    "backward needs a successful forward with targets first");
  int S = n_shards(m->B, pool);
  if (!m->grads && !(m->grads = llm_malloc(m->n_params * sizeof(float))))
    return llm_fail(err, LLM_ENOMEM, "out of memory for the gradients");
  if (S > 1 && ensure(&m->sgrad_mem, &m->shard_grads, &m->sgrad_cap,
                      mul_sat(m->n_params, (size_t)S - 1)))
    return llm_fail(err, LLM_ENOMEM, "out of memory for %d threads' gradients", S);
  grad_bufs gl = grad_layout(&m->cfg, (size_t)(m->B / S), (size_t)m->T);
  if (ensure(&m->grad_mem, &m->gbuf, &m->grad_cap, mul_sat(gl.total, (size_t)S)))
    return llm_fail(err, LLM_ENOMEM,
                    "out of memory for %.1f MB of backward buffers",
                    (double)gl.total * S * sizeof(float) / 1e6);
  int rc = att_scratch_prepare(m, pool, err); /* the pool may differ from the forward's */
  if (rc) return rc;
  run_shards(m, pool, &gl, model_shard_backward);
  if (S > 1) {
    sum_job j = {m->grads, m->shard_grads, m->n_params, S - 1};
    llm_pool_for(pool, m->n_params, sum_task, &j);
  }
  return LLM_OK;
}
