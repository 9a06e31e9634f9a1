/*
** test_model.c: the GPT model of model.h as a whole: configuration and
** tensor table, gradients of every tensor against finite differences of a
** double-precision reference model written here, the loss at
** initialisation, memorising a sentence, input checking, and determinism
** across runs and thread counts.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"
#include "alloc_fail.h"
#include "check.h"

static llm_pool *pool1, *pool2;

/* ---------------------------------------------------------------------- */
/* The reference: the model of model.h's header comment, in doubles,      */
/* reading the parameters through the tensor table by name.               */

typedef struct ref {
  llm_config c;
  const llm_model *m;
  double *p; /* the parameters, as doubles */
} ref;

/* Layer l's slice of a tensor; NULL when the model has none of that name. */
static const double *rp(const ref *r, const char *name, int l) {
  const llm_tensor *t = llm_model_find(r->m, name);
  if (!t) return NULL;
  size_t per =
      strncmp(name, "blocks.", 7) ? 0 : t->numel / (size_t)r->c.n_layer;
  return r->p + t->offset + (size_t)l * per;
}

static void ref_ln(double *out, const double *x, const double *w,
                   const double *b, int N, int C, double eps) {
  for (int n = 0; n < N; n++) {
    double m = 0, v = 0;
    for (int c = 0; c < C; c++) m += x[n * C + c];
    m /= C;
    for (int c = 0; c < C; c++) v += (x[n * C + c] - m) * (x[n * C + c] - m);
    v /= C;
    for (int c = 0; c < C; c++)
      out[n * C + c] = (x[n * C + c] - m) / sqrt(v + eps) * w[c] + b[c];
  }
}

/* out[N,OUT] (+)= x[N,IN] W[OUT,IN]^T + b */
static void ref_linear(double *out, int add, const double *x, const double *W,
                       const double *b, int N, int IN, int OUT) {
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OUT; o++) {
      double s = b ? b[o] : 0;
      for (int i = 0; i < IN; i++) s += x[n * IN + i] * W[o * IN + i];
      out[n * OUT + o] = (add ? out[n * OUT + o] : 0) + s;
    }
}

/* Causal attention over qkv rows of NH query heads, then NKV key heads,
** then NKV value heads of HS (NKV = NH: GPT's [q | k | v]), scores scaled
** by scale, query i seeing keys (i - window, i] (window 0: all); out is
** NH HS wide. */
static void ref_attention(double *out, const double *qkv, int B, int T, int NH, int NKV, int HS, double scale,
                          int window) {
  int C = NH * HS, KV = HS * NKV, Q = C + 2 * KV;
  double s[64];
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int i = 0; i < T; i++) {
        const double *q = qkv + (b * T + i) * Q + h * HS;
        int kh = h / (NH / NKV), j0 = window && i >= window ? i - window + 1 : 0;
        double m = -INFINITY, z = 0;
        for (int j = j0; j <= i; j++) {
          const double *k = qkv + (b * T + j) * Q + C + kh * HS;
          double d = 0;
          for (int e = 0; e < HS; e++) d += q[e] * k[e];
          s[j] = d * scale;
          m = s[j] > m ? s[j] : m;
        }
        for (int j = j0; j <= i; j++) z += s[j] = exp(s[j] - m);
        for (int e = 0; e < HS; e++) {
          double y = 0;
          for (int j = j0; j <= i; j++)
            y += s[j] / z * qkv[(b * T + j) * Q + C + KV + kh * HS + e];
          out[(b * T + i) * C + h * HS + e] = y;
        }
      }
}

/* Mean cross-entropy; the logits go to logits[N,V] when it is not NULL. */
static double ref_loss(const ref *r, const int32_t *in, const int32_t *tg,
                       int B, int T, double *logits) {
  int C = r->c.n_embd, H = r->c.n_hidden, V = r->c.vocab_size, N = B * T;
  double eps = r->c.norm_eps;
  double *x = malloc(sizeof(double) * N * C),
         *ln = malloc(sizeof(double) * N * C);
  double *qkv = malloc(sizeof(double) * N * 3 * C),
         *y = malloc(sizeof(double) * N * C);
  double *h = malloc(sizeof(double) * N * H), *lg = malloc(sizeof(double) * V);
  const double *wte = rp(r, "wte", 0), *wpe = rp(r, "wpe", 0);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      x[n * C + c] = wte[in[n] * C + c] + wpe[(n % T) * C + c];
  for (int l = 0; l < r->c.n_layer; l++) {
    ref_ln(ln, x, rp(r, "blocks.ln1.weight", l), rp(r, "blocks.ln1.bias", l), N,
           C, eps);
    ref_linear(qkv, 0, ln, rp(r, "blocks.attn.qkv.weight", l),
               rp(r, "blocks.attn.qkv.bias", l), N, C, 3 * C);
    ref_attention(y, qkv, B, T, r->c.n_head, r->c.n_head, C / r->c.n_head, 1 / sqrt(C / r->c.n_head), 0);
    ref_linear(x, 1, y, rp(r, "blocks.attn.proj.weight", l),
               rp(r, "blocks.attn.proj.bias", l), N, C, C);
    ref_ln(ln, x, rp(r, "blocks.ln2.weight", l), rp(r, "blocks.ln2.bias", l), N,
           C, eps);
    ref_linear(h, 0, ln, rp(r, "blocks.mlp.fc.weight", l),
               rp(r, "blocks.mlp.fc.bias", l), N, C, H);
    for (int i = 0; i < N * H; i++) {
      double v = h[i];
      h[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    }
    ref_linear(x, 1, h, rp(r, "blocks.mlp.proj.weight", l),
               rp(r, "blocks.mlp.proj.bias", l), N, H, C);
  }
  ref_ln(ln, x, rp(r, "lnf.weight", 0), rp(r, "lnf.bias", 0), N, C, eps);
  double loss = 0;
  for (int n = 0; n < N; n++) {
    ref_linear(lg, 0, ln + n * C, wte, NULL, 1, C, V);
    if (logits) memcpy(logits + (size_t)n * V, lg, sizeof(double) * V);
    double m = -INFINITY, z = 0;
    for (int v = 0; v < V; v++) m = lg[v] > m ? lg[v] : m;
    for (int v = 0; v < V; v++) z += exp(lg[v] - m);
    if (tg) loss += m + log(z) - lg[tg[n]];
  }
  free(x), free(ln), free(qkv), free(y), free(h), free(lg);
  return loss / N;
}

/* The Llama family's block of model.h in doubles: RMSNorm, fused q/k/v
** (biases when the model has them), per-head norms, rotary embeddings
** (pairs or halves, angles computed here), grouped-query attention (scaled,
** windowed on the sliding-window layers), norms after the attention and
** the MLP when the model has them, SwiGLU or GeGLU, embeddings scaled for
** Gemma, tied or separate head. */
static void ref_rms(double *out, const double *x, const double *w, int N, int C, double eps) {
  for (int n = 0; n < N; n++) {
    double ss = 0;
    for (int c = 0; c < C; c++) ss += x[n * C + c] * x[n * C + c];
    double rs = 1 / sqrt(ss / C + eps);
    for (int c = 0; c < C; c++) out[n * C + c] = x[n * C + c] * rs * w[c];
  }
}

/* Turns heads [0, heads) of row (stride ld) at pos. */
static void ref_rope(double *row, int heads, int HD, int n_rot, int halves, double pos, double theta,
                     const double *factors) {
  int half = n_rot / 2;
  for (int h = 0; h < heads; h++)
    for (int j = 0; j < half; j++) {
      double *v = row + h * HD;
      int i0 = halves ? j : 2 * j, i1 = halves ? j + half : 2 * j + 1;
      double a = pos * pow(theta, -2.0 * j / n_rot) / (factors ? factors[j] : 1);
      double v0 = v[i0], v1 = v[i1];
      v[i0] = v0 * cos(a) - v1 * sin(a);
      v[i1] = v0 * sin(a) + v1 * cos(a);
    }
}

static double ref_loss_llama(const ref *r, const int32_t *in, const int32_t *tg, int B, int T,
                             double *logits) {
  const llm_config *c = &r->c;
  int C = c->n_embd, H = c->n_hidden, V = c->vocab_size, N = B * T, NH = c->n_head, NKV = c->n_kv_head;
  int HD = c->head_dim ? c->head_dim : C / NH, QW = HD * NH, KW = HD * NKV, Q = QW + 2 * KW;
  int n_rot = c->n_rot ? c->n_rot : HD, arch = c->arch;
  int halves = arch != LLM_ARCH_LLAMA, gemma = arch == LLM_ARCH_GEMMA3;
  double eps = c->norm_eps, scale = c->attn_scale ? c->attn_scale : 1 / sqrt(HD);
  double rope_scale = c->rope_scale ? c->rope_scale : 1;
  double *x = malloc(sizeof(double) * N * C), *ln = malloc(sizeof(double) * N * C);
  double *qkv = malloc(sizeof(double) * N * Q), *y = malloc(sizeof(double) * N * QW);
  double *h = malloc(sizeof(double) * N * 2 * H), *a = malloc(sizeof(double) * N * H);
  double *o = malloc(sizeof(double) * N * C), *lg = malloc(sizeof(double) * V);
  const double *wte = rp(r, "wte", 0), *freqs = rp(r, "rope_freqs", 0);
  const double *head = c->tied_head == 1 ? wte : rp(r, "lm_head.weight", 0);
  for (int n = 0; n < N; n++)
    for (int i = 0; i < C; i++) x[n * C + i] = wte[in[n] * C + i] * (gemma ? sqrt(C) : 1);
  for (int l = 0; l < c->n_layer; l++) {
    int local = c->sliding_window > 0 && !(c->swa_period > 0 && (l + 1) % c->swa_period == 0);
    double theta = local && c->rope_theta_local ? c->rope_theta_local : c->rope_theta;
    ref_rms(ln, x, rp(r, "blocks.attn_norm.weight", l), N, C, eps);
    ref_linear(qkv, 0, ln, rp(r, "blocks.attn.qkv.weight", l), rp(r, "blocks.attn.qkv.bias", l), N, C, Q);
    const double *qn = rp(r, "blocks.attn.q_norm.weight", l), *kn = rp(r, "blocks.attn.k_norm.weight", l);
    for (int n = 0; n < N; n++) {
      double *row = qkv + (size_t)n * Q;
      if (qn) {
        for (int hh = 0; hh < NH + NKV; hh++) ref_rms(row + hh * HD, row + hh * HD, hh < NH ? qn : kn, 1, HD, eps);
      }
      ref_rope(row, NH + NKV, HD, n_rot, halves, (n % T) / rope_scale, theta, freqs);
    }
    ref_attention(y, qkv, B, T, NH, NKV, HD, scale, local ? c->sliding_window : 0);
    const double *post = rp(r, "blocks.attn_post_norm.weight", l);
    ref_linear(o, 0, y, rp(r, "blocks.attn.proj.weight", l), NULL, N, QW, C);
    if (post) ref_rms(o, o, post, N, C, eps);
    for (int i = 0; i < N * C; i++) x[i] += o[i];
    ref_rms(ln, x, rp(r, "blocks.mlp_norm.weight", l), N, C, eps);
    ref_linear(h, 0, ln, rp(r, "blocks.mlp.fc.weight", l), NULL, N, C, 2 * H);
    for (int n = 0; n < N; n++)
      for (int i = 0; i < H; i++) {
        double g = h[n * 2 * H + i], u = h[n * 2 * H + H + i];
        double act = gemma ? 0.5 * g * (1 + tanh(sqrt(2 / M_PI) * (g + 0.044715 * g * g * g))) : g / (1 + exp(-g));
        a[n * H + i] = act * u;
      }
    post = rp(r, "blocks.mlp_post_norm.weight", l);
    ref_linear(o, 0, a, rp(r, "blocks.mlp.proj.weight", l), NULL, N, H, C);
    if (post) ref_rms(o, o, post, N, C, eps);
    for (int i = 0; i < N * C; i++) x[i] += o[i];
  }
  ref_rms(ln, x, rp(r, "norm.weight", 0), N, C, eps);
  double loss = 0;
  for (int n = 0; n < N; n++) {
    ref_linear(lg, 0, ln + n * C, head, NULL, 1, C, V);
    if (logits) memcpy(logits + (size_t)n * V, lg, sizeof(double) * V);
    double m = -INFINITY, z = 0;
    for (int v = 0; v < V; v++) m = lg[v] > m ? lg[v] : m;
    for (int v = 0; v < V; v++) z += exp(lg[v] - m);
    if (tg) loss += m + log(z) - lg[tg[n]];
  }
  free(x), free(ln), free(qkv), free(y), free(h), free(a), free(o), free(lg);
  return loss / N;
}

/* The reference of either architecture. */
static double ref_any(const ref *r, const int32_t *in, const int32_t *tg, int B, int T,
                      double *logits) {
  return r->c.arch == LLM_ARCH_GPT ? ref_loss(r, in, tg, B, T, logits)
                                   : ref_loss_llama(r, in, tg, B, T, logits);
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

static llm_model *new_model(llm_config c, uint64_t seed) {
  llm_model *m = NULL;
  llm_err err;
  if (llm_model_new(&c, &m, &err)) {
    printf("  llm_model_new: %s\n", err.msg);
    return NULL;
  }
  llm_rng r;
  llm_rng_seed(&r, seed);
  llm_model_init(m, &r);
  return m;
}

static void random_ids(int32_t *ids, size_t n, int V, uint64_t seed) {
  llm_rng r;
  llm_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++)
    ids[i] = (int32_t)llm_rng_below(&r, (uint64_t)V);
}

static llm_config tiny_config(void) {
  llm_config c = {0};
  c.arch = LLM_ARCH_GPT;
  c.n_layer = 2, c.n_head = 2, c.n_embd = 16, c.block_size = 10,
  c.vocab_size = 37;
  return c;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void test_config(void) {
  llm_err err;
  llm_config c = tiny_config();
  CHECK(llm_config_check(&c, &err) == LLM_OK);
  CHECK(c.n_kv_head == 2 && c.n_hidden == 64 && c.norm_eps == 1e-5f &&
        c.tied_head == 1);
  llm_config bad = tiny_config();
  bad.n_embd = 15;
  CHECK(llm_config_check(&bad, &err) == LLM_EINVAL &&
        strstr(err.msg, "divisible"));
  bad = tiny_config();
  bad.n_layer = -1;
  CHECK(llm_config_check(&bad, &err) == LLM_EINVAL &&
        strstr(err.msg, "n_layer"));
  bad = tiny_config();
  bad.block_size = LLM_MAX_BLOCK + 1;
  CHECK(llm_config_check(&bad, &err) == LLM_EINVAL &&
        strstr(err.msg, "block_size"));
  bad = tiny_config();
  bad.n_kv_head = 1;
  CHECK(llm_config_check(&bad, &err) == LLM_EINVAL);
  bad = tiny_config();
  bad.norm_eps = -1;
  CHECK(llm_config_check(&bad, &err) == LLM_EINVAL);

  llm_model *m = new_model(tiny_config(), 1);
  CHECK(m != NULL);
  if (!m) return;
  /* The table covers the buffer, in order, without gaps. */
  size_t off = 0;
  for (int i = 0; i < llm_model_n_tensors(m); i++) {
    const llm_tensor *t = llm_model_tensor(m, i);
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    CHECK(t->offset == off && t->numel == n);
    CHECK(t->decay ==
          (t->ndim >= 2 && (t->ndim == 3 || !strncmp(t->name, "w", 1))));
    off += n;
  }
  CHECK(off == llm_model_n_params(m) && off == llm_config_n_params(&c));
  const llm_tensor *q = llm_model_find(m, "blocks.attn.qkv.weight");
  CHECK(q && q->ndim == 3 && q->shape[0] == 2 && q->shape[1] == 48 &&
        q->shape[2] == 16);
  CHECK(llm_model_find(m, "nope") == NULL && llm_model_tensor(m, 99) == NULL);
  /* init: gains 1, biases 0, weights with the GPT-2 spreads */
  const float *p = llm_model_params(m);
  CHECK(p[llm_model_find(m, "lnf.weight")->offset] == 1.0f);
  CHECK(p[llm_model_find(m, "blocks.mlp.fc.bias")->offset + 5] == 0.0f);
  const llm_tensor *pr = llm_model_find(m, "blocks.mlp.proj.weight");
  double ss = 0;
  for (size_t i = 0; i < pr->numel; i++)
    ss += (double)p[pr->offset + i] * p[pr->offset + i];
  double sd = sqrt(ss / pr->numel);
  CHECK(fabs(sd - 0.01) < 0.001); /* 0.02 / sqrt(2 L) with L = 2 */
  CHECK(llm_model_grads(m) == NULL && llm_model_logits(m) == NULL);
  size_t bytes = llm_model_train_bytes(&c, 3, 8);
  CHECK(bytes > 16 * off && bytes < 64 * 1024 * 1024);
  llm_model_free(m);
}

/* (a) every tensor's gradient against central differences of the
** reference. */
static void check_gradients(llm_config c) {
  int B = 3, T = 8;
  llm_model *m = new_model(c, 2);
  if (!m) return;
  llm_config_check(&c, NULL);
  /* Spread the parameters well beyond GPT-2's init, so that every path
  ** (gains, biases, attention patterns) carries a sizeable gradient. */
  llm_rng r;
  llm_rng_seed(&r, 3);
  float *p = llm_model_params(m);
  size_t np = llm_model_n_params(m);
  for (size_t i = 0; i < np; i++) p[i] += 0.3f * llm_rng_normal(&r);
  const llm_tensor *freqs = llm_model_find(m, "rope_freqs");
  for (size_t j = 0; freqs && j < freqs->numel; j++) p[freqs->offset + j] = 1.0f + 1.5f * (float)j;
  int32_t in[24], tg[24];
  random_ids(in, 24, c.vocab_size, 4);
  random_ids(tg, 24, c.vocab_size, 5);
  in[0] = in[1] = in[9] = 3; /* repeated ids: the embedding scatter adds up */
  ref R = {c, m, malloc(np * sizeof(double))};
  for (size_t i = 0; i < np; i++) R.p[i] = p[i];

  float loss;
  llm_err err;
  CHECK(llm_model_forward(m, in, tg, B, T, pool2, &loss, &err) == LLM_OK);
  CHECK(llm_model_backward(m, pool2, &err) == LLM_OK);
  double *lg = malloc(sizeof(double) * B * T * c.vocab_size);
  double ref_l = ref_any(&R, in, tg, B, T, lg);
  CHECK(fabs(loss - ref_l) < 1e-5 * ref_l);
  const float *lf = llm_model_logits(m);
  double dl = 0, ml = 0;
  for (int i = 0; i < B * T * c.vocab_size; i++) {
    dl = fmax(dl, fabs(lf[i] - lg[i]));
    ml = fmax(ml, fabs(lg[i]));
  }
  CHECK(dl < 1e-5 * ml);

  /* err = max |backward - numerical| / max |numerical| over a tensor, on
  ** up to ~150 evenly spaced elements of each (all for small ones). */
  const float *g = llm_model_grads(m);
  double h = 1e-5, worst = 0;
  for (int ti = 0; ti < llm_model_n_tensors(m); ti++) {
    const llm_tensor *t = llm_model_tensor(m, ti);
    if (t == freqs) { /* constants: no gradient */
      int zero = 1;
      for (size_t j = 0; j < t->numel; j++) zero &= g[t->offset + j] == 0.0f;
      CHECK(zero);
      continue;
    }
    size_t stride = t->numel > 150 ? t->numel / 150 : 1;
    double maxd = 0, maxn = 0;
    for (size_t j = 0; j < t->numel; j += stride) {
      double *x = &R.p[t->offset + j], keep = *x;
      *x = keep + h;
      double fp = ref_any(&R, in, tg, B, T, NULL);
      *x = keep - h;
      double fm = ref_any(&R, in, tg, B, T, NULL);
      *x = keep;
      double num = (fp - fm) / (2 * h);
      maxd = fmax(maxd, fabs(num - g[t->offset + j]));
      maxn = fmax(maxn, fabs(num));
    }
    double e = maxd / fmax(maxn, 1e-6);
    worst = fmax(worst, e);
    if (!(e < 2e-5) || maxn < 1e-4)
      printf("  %s: err %.3g, max |grad| %.3g\n", t->name, e, maxn);
    CHECK(e < 2e-5 && maxn >= 1e-4);
  }
  /* wpe rows past T get no gradient (written as zero, not left over) */
  const llm_tensor *wpe = llm_model_find(m, "wpe");
  CHECK(!wpe || (g[wpe->offset + (size_t)T * c.n_embd] == 0.0f &&
                 g[wpe->offset + wpe->numel - 1] == 0.0f));
  free(R.p);
  free(lg);
  llm_model_free(m);
}

static llm_config tiny_llama(int n_kv_head, int tied) {
  llm_config c = tiny_config();
  c.arch = LLM_ARCH_LLAMA;
  c.n_head = 4;
  c.n_kv_head = n_kv_head;
  c.n_hidden = 24;
  c.tied_head = tied ? 1 : -1;
  return c;
}

static void test_gradients(void) { check_gradients(tiny_config()); }

/* The Llama block: grouped-query attention with a separate head, and
** plain multi-head attention with a tied head. */
static void test_gradients_llama(void) {
  check_gradients(tiny_llama(2, 0));
  check_gradients(tiny_llama(4, 1));
}

/* The blocks of fine-tuned imports: Llama 3's frequency factors and
** linear scaling; Qwen2's biases and NeoX rotary (part of each head
** turned); Qwen3's per-head norms with heads wider than C / NH; Gemma 3's
** everything: scaled embeddings, GeGLU, norms after attention and MLP,
** narrower heads, its own attention scale, sliding-window layers with
** their own rotary base. */
static void test_gradients_family(void) {
  llm_config c = tiny_llama(2, 0);
  c.has_rope_freqs = 1, c.rope_theta = 500000, c.rope_scale = 2;
  check_gradients(c);
  c = tiny_llama(2, 1);
  c.arch = LLM_ARCH_QWEN2, c.rope_theta = 1e6, c.n_rot = 2;
  check_gradients(c);
  c = tiny_llama(2, 0);
  c.arch = LLM_ARCH_QWEN3, c.head_dim = 6, c.norm_eps = 1e-6f;
  check_gradients(c);
  c = tiny_llama(1, 1);
  c.arch = LLM_ARCH_GEMMA3, c.n_head = 2, c.head_dim = 4, c.attn_scale = 0.3f, c.rope_theta = 1e6;
  c.rope_theta_local = 10000, c.sliding_window = 3, c.swa_period = 2;
  check_gradients(c);
}

/* (b) at GPT-2's init the logits are small, so the loss is near ln V. */
static void test_init_loss(void) {
  llm_config c = {0};
  c.n_layer = 2, c.n_head = 4, c.n_embd = 64, c.block_size = 32,
  c.vocab_size = 256;
  llm_model *m = new_model(c, 7);
  if (!m) return;
  int32_t in[4 * 32], tg[4 * 32];
  random_ids(in, 128, 256, 8);
  random_ids(tg, 128, 256, 9);
  float loss = 0;
  llm_err err;
  CHECK(llm_model_forward(m, in, tg, 4, 32, pool2, &loss, &err) == LLM_OK);
  if (!(fabs(loss - log(256.0)) < 0.1)) printf("  loss %g\n", (double)loss);
  CHECK(fabs(loss - log(256.0)) < 0.1);
  llm_model_free(m);
}

/* (c) a small model learns one sentence by heart with plain Adam. */
static void test_memorise(void) {
  const char *text =
      "The quick brown fox jumps over the lazy dog, then naps in the sun.";
  int T = 64;
  llm_config c = {0};
  c.n_layer = 2, c.n_head = 4, c.n_embd = 32, c.block_size = T,
  c.vocab_size = 256;
  llm_model *m = new_model(c, 11);
  if (!m) return;
  int32_t in[64], tg[64];
  for (int t = 0; t < T; t++)
    in[t] = (uint8_t)text[t], tg[t] = (uint8_t)text[t + 1];
  size_t np = llm_model_n_params(m);
  float *p = llm_model_params(m);
  float *mo = calloc(np, sizeof *mo), *ve = calloc(np, sizeof *ve);
  float loss = 99, first = 0;
  llm_err err;
  for (int step = 1; step <= 300 && loss > 0.02f; step++) {
    if (llm_model_forward(m, in, tg, 1, T, pool2, &loss, &err) ||
        llm_model_backward(m, pool2, &err)) {
      printf("  step %d: %s\n", step, err.msg);
      break;
    }
    if (step == 1) first = loss;
    const float *g = llm_model_grads(m);
    double b1 = 1 - pow(0.9, step), b2 = 1 - pow(0.999, step);
    for (size_t i = 0; i < np; i++) {
      mo[i] = 0.9f * mo[i] + 0.1f * g[i];
      ve[i] = 0.999f * ve[i] + 0.001f * g[i] * g[i];
      p[i] -= (float)(3e-3 * (mo[i] / b1) / (sqrt(ve[i] / b2) + 1e-8));
    }
  }
  if (!(loss < 0.05f)) printf("  loss %g -> %g\n", (double)first, (double)loss);
  CHECK(first > 5 && loss < 0.05f);
  free(mo), free(ve);
  llm_model_free(m);
}

/* (d) bad inputs are refused with LLM_EINVAL and a message that says where. */
static void test_bad_inputs(void) {
  llm_config c = tiny_config();
  llm_model *m = new_model(c, 1);
  if (!m) return;
  int32_t in[24], tg[24];
  random_ids(in, 24, c.vocab_size, 1);
  random_ids(tg, 24, c.vocab_size, 2);
  float loss;
  llm_err err;
  in[11] = 37; /* = V, at b = 1, t = 3 */
  CHECK(llm_model_forward(m, in, tg, 3, 8, NULL, &loss, &err) == LLM_EINVAL);
  CHECK(err.code == LLM_EINVAL && strstr(err.msg, "inputs[1][3] = 37"));
  in[11] = -1;
  CHECK(llm_model_forward(m, in, tg, 3, 8, NULL, &loss, &err) == LLM_EINVAL);
  CHECK(strstr(err.msg, "inputs[1][3] = -1"));
  in[11] = 0;
  tg[23] = 1000;
  CHECK(llm_model_forward(m, in, tg, 3, 8, NULL, &loss, &err) == LLM_EINVAL);
  CHECK(strstr(err.msg, "targets[2][7] = 1000"));
  tg[23] = 0;
  CHECK(llm_model_forward(m, in, tg, 2, 11, NULL, &loss, &err) == LLM_EINVAL);
  CHECK(strstr(err.msg, "block_size") && strstr(err.msg, "11"));
  CHECK(llm_model_forward(m, in, tg, 0, 8, NULL, &loss, &err) == LLM_EINVAL);
  CHECK(strstr(err.msg, "B must be >= 1"));
  CHECK(llm_model_forward(m, in, tg, 3, 0, NULL, &loss, &err) == LLM_EINVAL);
  CHECK(llm_model_forward(m, NULL, tg, 3, 8, NULL, &loss, &err) == LLM_EINVAL);
  /* no backward after a failed forward, nor after one without targets */
  CHECK(llm_model_backward(m, NULL, &err) == LLM_EINVAL);
  CHECK(llm_model_forward(m, in, NULL, 3, 8, NULL, &loss, &err) == LLM_OK);
  CHECK(llm_model_logits(m) != NULL);
  CHECK(llm_model_backward(m, NULL, &err) == LLM_EINVAL);
  llm_config odd = tiny_llama(2, 1);
  odd.n_embd = 12;
  odd.n_head = 4; /* head size 3: rotary embeddings need pairs */
  llm_model *m2 = NULL;
  CHECK(llm_model_new(&odd, &m2, &err) == LLM_EINVAL && m2 == NULL);
  CHECK(strstr(err.msg, "even number of dimensions") != NULL);
  odd = tiny_llama(2, 1);
  odd.arch = LLM_ARCH_BERT; /* an encoder: inference only */
  CHECK(llm_model_new(&odd, &m2, &err) == LLM_EINVAL && strstr(err.msg, "does not train"));
  odd = tiny_llama(2, 1);
  odd.arch = LLM_ARCH_QWEN3, odd.head_dim = 5; /* odd heads cannot turn */
  CHECK(llm_model_new(&odd, &m2, &err) == LLM_EINVAL && m2 == NULL);
  odd = tiny_llama(2, 1);
  odd.sliding_window = -1;
  CHECK(llm_model_new(&odd, &m2, &err) == LLM_EINVAL && strstr(err.msg, "sliding window"));
  llm_config gqa_gpt = tiny_config();
  gqa_gpt.n_kv_head = 1;
  CHECK(llm_model_new(&gqa_gpt, &m2, &err) == LLM_EINVAL && m2 == NULL);
  llm_model_free(m);
}

/* One forward + backward; returns the loss, copies the gradients. */
static float run_step(llm_model *m, const int32_t *in, const int32_t *tg, int B,
                      int T, llm_pool *pool, float *grads) {
  float loss = -1;
  llm_err err;
  if (llm_model_forward(m, in, tg, B, T, pool, &loss, &err) ||
      llm_model_backward(m, pool, &err)) {
    printf("  %s\n", err.msg);
    return -1;
  }
  memcpy(grads, llm_model_grads(m), llm_model_n_params(m) * sizeof *grads);
  return loss;
}

/* (e) bitwise repeatable for a thread count; close across thread counts.
** Also: gradients are written, not accumulated (a second backward gives
** the same), and a smaller shape after a larger one reuses the buffers.
** B = 3 splits each layer over the two threads; B = 4 gives each thread
** two sequences of its own and sums their gradients (model.c's shards);
** both architectures. */
static void determinism_case(int arch, int B) {
  llm_config c = {0};
  c.arch = arch;
  c.n_layer = 2, c.n_head = 2, c.n_embd = 32, c.block_size = 80,
  c.vocab_size = 50;
  int T = 80;
  llm_model *m = new_model(c, 21);
  if (!m) return;
  size_t np = llm_model_n_params(m);
  int32_t *in = malloc(sizeof(int32_t) * B * T),
          *tg = malloc(sizeof(int32_t) * B * T);
  random_ids(in, (size_t)B * T, c.vocab_size, 22);
  random_ids(tg, (size_t)B * T, c.vocab_size, 23);
  float *g1 = malloc(np * sizeof *g1), *g2 = malloc(np * sizeof *g2);
  float *g3 = malloc(np * sizeof *g3);
  float l1 = run_step(m, in, tg, B, T, pool2, g1);
  float l2 = run_step(m, in, tg, 1, 5, pool2, g2); /* smaller shape */
  float l2b = run_step(m, in, tg, B, T, pool2, g2);
  CHECK(l1 == l2b && memcmp(g1, g2, np * sizeof *g1) == 0);
  llm_err err;
  CHECK(llm_model_backward(m, pool2, &err) == LLM_OK);
  CHECK(memcmp(g1, llm_model_grads(m), np * sizeof *g1) == 0);
  float l3 = run_step(m, in, tg, B, T, pool1, g3);
  double d = 0, mx = 0;
  for (size_t i = 0; i < np; i++) {
    d = fmax(d, fabs(g1[i] - g3[i]));
    mx = fmax(mx, fabs(g1[i]));
  }
  if (!(d < 1e-5 * mx && fabs(l1 - l3) < 1e-6 * l1))
    printf(
        "  arch %d B %d, 1 vs 2 threads: loss %.9g vs %.9g, grads differ by "
        "%.3g of %.3g\n",
        arch, B, (double)l3, (double)l1, d, mx);
  CHECK(d < 1e-5 * mx && fabs(l1 - l3) < 1e-6 * l1);
  float l4 = run_step(m, in, tg, B, T, pool1, g2);
  CHECK(l3 == l4 && memcmp(g2, g3, np * sizeof *g2) == 0);
  CHECK(l2 > 0);
  free(in), free(tg), free(g1), free(g2), free(g3);
  llm_model_free(m);
}

static void test_determinism(void) {
  for (int B = 3; B <= 4; B++) {
    determinism_case(LLM_ARCH_GPT, B);
    determinism_case(LLM_ARCH_LLAMA, B);
  }
}

/* (f) Activations spread over many allocations (a small llm_model_set_max_alloc,
** as a big batch is under SQLite's 2 GB cap) give bitwise the same loss
** and gradients as in one, for both architectures; growing the shape
** afterwards re-spreads them. */
static void test_split_activations(void) {
  for (int arch = 0; arch < 2; arch++) {
    llm_config c = {0};
    c.arch = arch ? LLM_ARCH_LLAMA : LLM_ARCH_GPT;
    c.n_layer = 2, c.n_head = 4, c.n_kv_head = arch ? 2 : 0, c.n_embd = 32;
    c.block_size = 40, c.vocab_size = 50;
    int B = 3, T = 40;
    llm_model *one = new_model(c, 41), *split = new_model(c, 41);
    if (!one || !split) return;
    size_t np = llm_model_n_params(one);
    int32_t in[3 * 40], tg[3 * 40];
    random_ids(in, (size_t)B * T, c.vocab_size, 42);
    random_ids(tg, (size_t)B * T, c.vocab_size, 43);
    float *g1 = malloc(np * sizeof *g1), *g2 = malloc(np * sizeof *g2);
    float want = run_step(one, in, tg, B, T, pool2, g1);
    /* 4 KB: most arrays alone; 64 KB: several arrays share a chunk */
    size_t limits[2] = {4096, 65536};
    for (int k = 0; k < 2; k++) {
      llm_model_set_max_alloc(split, limits[k]);
      run_step(split, in, tg, 1, 5, pool2, g2); /* small first, then grow */
      float got = run_step(split, in, tg, B, T, pool2, g2);
      CHECK(got == want && memcmp(g1, g2, np * sizeof *g1) == 0);
    }
    free(g1), free(g2);
    llm_model_free(one);
    llm_model_free(split);
  }
}

/* Every allocation of model creation, forward and backward (activations
** in many pieces) failing in turn: LLM_ENOMEM, nothing leaked (under ASan),
** and the same model then
** works and gives the same loss as if nothing had happened. */
static void test_out_of_memory(void) {
  llm_config c = tiny_config();
  int32_t in[24], tg[24];
  random_ids(in, 24, c.vocab_size, 31);
  random_ids(tg, 24, c.vocab_size, 32);
  llm_err err;
  float want = -1, loss;
  for (long k = 0;; k++) {
    llm_model *m = NULL;
    llm_test_fail_one_alloc_after(k);
    int rc = llm_model_new(&c, &m, &err);
    if (!rc) {
      llm_rng r;
      llm_rng_seed(&r, 5);
      llm_model_init(m, &r);
      llm_model_set_max_alloc(m, 1024); /* activations in many pieces */
      rc = llm_model_forward(m, in, tg, 3, 8, pool2, &loss, &err);
      if (!rc) rc = llm_model_backward(m, pool2, &err);
    }
    long failed = llm_test_allocs_failed();
    llm_test_fail_allocs_after(-1);
    if (!failed) {
      CHECK(rc == LLM_OK);
      if (want < 0) want = loss; /* k past every allocation: the clean run */
      llm_model_free(m);
      break;
    }
    CHECK(rc == LLM_ENOMEM && err.code == LLM_ENOMEM &&
          strstr(err.msg, "memory"));
    if (rc && !m) continue;
    CHECK(m != NULL);
    if (!m) continue;
    CHECK(llm_model_forward(m, in, tg, 3, 8, pool2, &loss, &err) == LLM_OK);
    CHECK(llm_model_backward(m, pool2, &err) == LLM_OK);
    if (want < 0) {
      llm_model *ref_m = new_model(c, 5);
      llm_model_forward(ref_m, in, tg, 3, 8, pool2, &want, &err);
      llm_model_free(ref_m);
    }
    CHECK(loss == want);
    llm_model_free(m);
  }
}

int main(void) {
  llm_err err;
  if (llm_pool_new(1, &pool1, &err) || llm_pool_new(2, &pool2, &err)) {
    printf("FAIL pool: %s\n", err.msg);
    return 1;
  }
  RUN(test_config);
  RUN(test_gradients);
  RUN(test_gradients_llama);
  RUN(test_gradients_family);
  RUN(test_init_loss);
  RUN(test_memorise);
  RUN(test_split_activations);
  RUN(test_bad_inputs);
  RUN(test_determinism);
  RUN(test_out_of_memory);
  llm_pool_free(pool1);
  llm_pool_free(pool2);
  return CHECK_DONE();
}
