/*
** test_infer.c: the KV-cache forward of infer.h, checked against the
** training forward of model.h (itself checked against a double-precision
** reference in test_model.c): prefill, decode and any mix of the two give
** the same logits, for both architectures; scoring and embeddings over
** windows against the window
** rule computed independently here; the sampler's filters and its
** distribution; generation (sliding window, stop strings, end of text,
** max_tokens) against a naive generator that reruns the whole window; a KV
** cache of halves: within their rounding of the floats' results, prefill
** and decode agreeing, and batches as bitwise as with floats.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/batch.h"
#include "nn/generate.h"
#include "nn/infer.h"
#include "check.h"

#define V 257 /* 256 bytes and an end-of-text token */
#define P 16  /* block_size */

static llm_pool *pool2;

/* The architecture of the models the tests make (all are run); with
** llama3, a Llama with rotary frequency factors. */
static int arch = LLM_ARCH_GPT, llama3 = 0;
/* The KV cache's type of the sequences and generations they make. */
static int kv = LLM_KV_F32;

/* A small model with weights large enough that logits differ clearly;
** the Llama one has grouped-query attention and a separate head. */
static llm_model *new_model(void) {
  llm_config c = {0};
  c.arch = arch;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 32;
  c.block_size = P;
  c.vocab_size = V;
  if (arch != LLM_ARCH_GPT) {
    c.n_kv_head = 2;
    c.n_hidden = 48;
    c.tied_head = -1;
    c.has_rope_freqs = llama3;
  }
  if (arch == LLM_ARCH_QWEN2) c.rope_theta = 1e6f, c.n_rot = 4;
  if (arch == LLM_ARCH_QWEN3) c.head_dim = 12, c.tied_head = 1;
  if (arch == LLM_ARCH_GEMMA3) {
    c.head_dim = 6, c.n_kv_head = 1, c.attn_scale = 0.25f, c.tied_head = 1;
    c.rope_theta = 1e6f, c.rope_theta_local = 10000, c.sliding_window = 5, c.swa_period = 2;
  }
  llm_model *m;
  llm_err err;
  if (llm_model_new(&c, &m, &err)) return NULL;
  llm_rng r;
  llm_rng_seed(&r, 7);
  float *p = llm_model_params(m);
  for (size_t i = 0; i < llm_model_n_params(m); i++) p[i] = 0.3f * llm_rng_normal(&r);
  const llm_tensor *f = llm_model_find(m, "rope_freqs");
  for (size_t i = 0; f && i < f->numel; i++) p[f->offset + i] = 1.0f + (float)i;
  return m;
}

/* A sequence over m (over net when m is NULL) with a cache of type kv. */
static int seq_new(llm_model *m, const llm_net *net, llm_infer **s) {
  llm_err err;
  int rc = m ? llm_infer_new_model(m, s, &err) : llm_infer_new(net, s, &err);
  return rc ? rc : llm_infer_set_kv_type(*s, kv, &err);
}

static void random_tokens(int32_t *t, int n, uint64_t seed) {
  llm_rng r;
  llm_rng_seed(&r, seed);
  for (int i = 0; i < n; i++) t[i] = (int32_t)llm_rng_below(&r, 256);
}

/* Logits [n, V] of the training forward over tokens[0..n). */
static float *train_logits(llm_model *m, const int32_t *tokens, int n) {
  llm_err err;
  if (llm_model_forward(m, tokens, NULL, 1, n, NULL, NULL, &err)) return NULL;
  float *out = malloc((size_t)n * V * sizeof *out);
  memcpy(out, llm_model_logits(m), (size_t)n * V * sizeof *out);
  return out;
}

static double max_diff(const float *a, const float *b, size_t n) {
  double d = 0;
  for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
  return d;
}

/* Feeds tokens in the given chunk sizes and compares every row's logits
** with the training forward's. */
static double chunked_diff(llm_model *m, llm_pool *pool, const int *chunks, int n_chunks) {
  int32_t tok[P];
  random_tokens(tok, P, 3);
  float *want = train_logits(m, tok, P);
  llm_infer *s;
  llm_err err;
  if (seq_new(m, NULL, &s)) return 1e9;
  double d = 0;
  int at = 0;
  for (int k = 0; k < n_chunks; k++) {
    if (llm_infer_forward(s, tok + at, chunks[k], pool, &err)) d = 1e9;
    for (int r = 0; r < chunks[k]; r++)
      d = fmax(d, max_diff(llm_infer_logits(s, r, 1, pool), want + (size_t)(at + r) * V, V));
    at += chunks[k];
  }
  if (llm_infer_pos(s) != P) d = 1e9;
  llm_infer_free(s);
  free(want);
  return d;
}

static void test_prefill_matches_training_forward(void) {
  llm_model *m = new_model();
  int whole[] = {P};
  CHECK(chunked_diff(m, NULL, whole, 1) < 2e-4);
  CHECK(chunked_diff(m, pool2, whole, 1) < 2e-4);
  /* all rows in one call of llm_infer_logits too */
  int32_t tok[P];
  random_tokens(tok, P, 3);
  float *want = train_logits(m, tok, P);
  llm_infer *s;
  llm_err err;
  CHECK(llm_infer_new_model(m, &s, &err) == LLM_OK);
  CHECK(llm_infer_forward(s, tok, P, pool2, &err) == LLM_OK);
  CHECK(max_diff(llm_infer_logits(s, 0, P, pool2), want, (size_t)P * V) < 2e-4);
  llm_infer_free(s);
  free(want);
  llm_model_free(m);
}

static void test_decode_and_mixed_chunks_match(void) {
  llm_model *m = new_model();
  int ones[P], mixed[] = {5, 1, 3, 1, 1, 4, 1};
  for (int i = 0; i < P; i++) ones[i] = 1;
  CHECK(chunked_diff(m, NULL, ones, P) < 2e-4);
  CHECK(chunked_diff(m, pool2, ones, P) < 2e-4);
  CHECK(chunked_diff(m, pool2, mixed, 7) < 2e-4);
  llm_model_free(m);
}

static void test_forward_rejects_bad_calls(void) {
  llm_model *m = new_model();
  llm_infer *s;
  llm_err err;
  int32_t tok[P + 1], bad = V;
  random_tokens(tok, P + 1, 1);
  CHECK(llm_infer_new_model(m, &s, &err) == LLM_OK);
  CHECK(llm_infer_forward(s, tok, 0, NULL, &err) == LLM_EINVAL);
  CHECK(llm_infer_forward(s, tok, P + 1, NULL, &err) == LLM_EINVAL);
  CHECK(llm_infer_forward(s, &bad, 1, NULL, &err) == LLM_EINVAL);
  CHECK(strstr(err.msg, "not an id") != NULL);
  CHECK(llm_infer_pos(s) == 0);
  CHECK(llm_infer_forward(s, tok, P - 1, NULL, &err) == LLM_OK);
  CHECK(llm_infer_forward(s, tok, 2, NULL, &err) == LLM_EINVAL);
  CHECK(strstr(err.msg, "do not fit") != NULL);
  CHECK(llm_infer_pos(s) == P - 1);
  llm_infer_free(s);
  llm_model_free(m);
}

static double log_softmax_at(const float *l, int target) {
  double mx = -INFINITY, s = 0;
  for (int i = 0; i < V; i++) mx = fmax(mx, l[i]);
  for (int i = 0; i < V; i++) s += exp((double)l[i] - mx);
  return (double)l[target] - mx - log(s);
}

/* The window rule of infer.h, written out: windows of P tokens starting at
** 0, P/2, P, ...; each scores the positions the previous did not. */
static double expected_score(llm_model *m, const int32_t *tok, int n, int first) {
  double sum = 0;
  int done = 0;
  for (int begin = 0;; begin += P / 2) {
    int end = begin + P < n ? begin + P : n;
    float *l = train_logits(m, tok + begin, end - begin);
    for (int t = done > first ? done : first; t < end; t++) sum += log_softmax_at(l + (size_t)(t - 1 - begin) * V, tok[t]);
    free(l);
    done = end;
    if (end == n) break;
  }
  return sum;
}

static void test_score_over_windows(void) {
  llm_model *m = new_model();
  llm_infer *s;
  llm_err err;
  int32_t tok[70];
  random_tokens(tok, 70, 9);
  CHECK(llm_infer_new_model(m, &s, &err) == LLM_OK);
  int cases[][2] = {{2, 1}, {P, 1}, {P, 5}, {P + 1, 1}, {40, 1}, {40, 20}, {70, 3}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    double got, want = expected_score(m, tok, cases[k][0], cases[k][1]);
    CHECK(llm_score(s, tok, (size_t)cases[k][0], (size_t)cases[k][1], pool2, NULL, &got, &err) == LLM_OK);
    CHECK(fabs(got - want) < 1e-3 * (1 + fabs(want)));
  }
  double z;
  CHECK(llm_score(s, tok, 5, 5, NULL, NULL, &z, &err) == LLM_OK && z == 0);
  CHECK(llm_score(s, tok, 5, 0, NULL, NULL, &z, &err) == LLM_EINVAL);
  llm_infer_free(s);
  llm_model_free(m);
}

static void test_embed_pooling(void) {
  llm_model *m = new_model();
  llm_infer *s;
  llm_err err;
  int C = 32;
  int32_t tok[40];
  random_tokens(tok, 40, 11);
  CHECK(llm_infer_new_model(m, &s, &err) == LLM_OK);
  float e[32], want[32];
  /* one window: the mean of the hidden states of tokens 1..n-1 */
  CHECK(llm_embed(s, tok, 10, 1, LLM_POOL_MEAN, 0, NULL, NULL, e, &err) == LLM_OK);
  CHECK(llm_infer_forward((llm_infer_reset(s), s), tok, 10, NULL, &err) == LLM_OK);
  memset(want, 0, sizeof want);
  for (int t = 1; t < 10; t++)
    for (int i = 0; i < C; i++) want[i] += llm_infer_hidden(s)[t * C + i] / 9;
  CHECK(max_diff(e, want, (size_t)C) < 1e-5);
  /* normalised: the same direction, unit length */
  float u[32];
  CHECK(llm_embed(s, tok, 10, 1, LLM_POOL_MEAN, 1, NULL, NULL, u, &err) == LLM_OK);
  double norm = 0, wn = 0;
  for (int i = 0; i < C; i++) norm += (double)u[i] * u[i], wn += (double)want[i] * want[i];
  CHECK(fabs(norm - 1) < 1e-5);
  for (int i = 0; i < C; i++) CHECK(fabs(u[i] - want[i] / sqrt(wn)) < 1e-5);
  /* last: the last token with the whole context before it */
  CHECK(llm_embed(s, tok, 40, 1, LLM_POOL_LAST, 0, NULL, NULL, e, &err) == LLM_OK);
  llm_infer_reset(s);
  CHECK(llm_infer_forward(s, tok + 40 - P, P, NULL, &err) == LLM_OK);
  CHECK(max_diff(e, llm_infer_hidden(s) + (P - 1) * C, (size_t)C) < 1e-5);
  /* windows: positions 0..15 from [0,16), 16..23 from [8,24), ... */
  CHECK(llm_embed(s, tok, 40, 1, LLM_POOL_MEAN, 0, pool2, NULL, e, &err) == LLM_OK);
  memset(want, 0, sizeof want);
  for (int begin = 0, done = 0; done < 40; begin += P / 2) {
    int end = begin + P < 40 ? begin + P : 40;
    llm_infer_reset(s);
    CHECK(llm_infer_forward(s, tok + begin, end - begin, NULL, &err) == LLM_OK);
    for (int t = done > 1 ? done : 1; t < end; t++)
      for (int i = 0; i < C; i++) want[i] += llm_infer_hidden(s)[(t - begin) * C + i] / 39;
    done = end;
  }
  CHECK(max_diff(e, want, (size_t)C) < 1e-4);
  CHECK(llm_embed(s, tok, 3, 3, LLM_POOL_MEAN, 1, NULL, NULL, e, &err) == LLM_EINVAL);
  llm_infer_free(s);
  llm_model_free(m);
}

/* ---------------------------------------------------------------------- */
/* Sampling                                                                */

#define SV 6
static const float base_logits[SV] = {2.0f, 1.0f, 0.5f, 3.0f, -1.0f, 0.0f};

/* Frequencies of n draws with options o. */
static void draw(const llm_sample_opts *o, int n, double *freq) {
  llm_sampler *s;
  llm_err err;
  llm_rng r;
  llm_rng_seed(&r, 42);
  memset(freq, 0, SV * sizeof *freq);
  if (llm_sampler_new(SV, &s, &err)) return;
  for (int i = 0; i < n; i++) {
    float l[SV];
    memcpy(l, base_logits, sizeof l);
    freq[llm_sample(s, o, l, NULL, 0, &r, NULL)] += 1.0 / n;
  }
  llm_sampler_free(s);
}

/* softmax(base / T) restricted to keep[], renormalised */
static void expected(double T, const int *keep, double *p) {
  double z = 0;
  for (int i = 0; i < SV; i++) z += keep[i] ? exp(base_logits[i] / T) : 0;
  for (int i = 0; i < SV; i++) p[i] = keep[i] ? exp(base_logits[i] / T) / z : 0;
}

/* 200,000 draws with options o follow softmax(base / T) over keep[]. */
static int draws_follow(const llm_sample_opts *o, double T, const int *keep) {
  double f[SV], p[SV];
  draw(o, 200000, f);
  expected(T, keep, p);
  for (int i = 0; i < SV; i++)
    if (fabs(f[i] - p[i]) > 0.01 || (p[i] == 0 && f[i] != 0)) return 0;
  return 1;
}

static void test_sampler_distribution_and_filters(void) {
  llm_sample_opts o;
  double f[SV];
  int all[SV] = {1, 1, 1, 1, 1, 1}, top2[SV] = {1, 0, 0, 1, 0, 0}, top3[SV] = {1, 1, 0, 1, 0, 0};
  llm_sample_opts_default(&o);
  CHECK(draws_follow(&o, 1, all));
  o.temperature = 0.5f;
  CHECK(draws_follow(&o, 0.5, all));
  o.temperature = 1;
  o.top_k = 2; /* tokens 3 and 0 */
  CHECK(draws_follow(&o, 1, top2));
  /* top_p: probabilities .605 .222 .082 .050 .030 .011 for 3, 0, 1, 2,
  ** 5, 4: the nucleus of 0.8 is {3, 0}; of 0.85, {3, 0, 1} */
  o.top_k = 0;
  o.top_p = 0.8f;
  CHECK(draws_follow(&o, 1, top2));
  o.top_p = 0.85f;
  CHECK(draws_follow(&o, 1, top3));
  /* min_p 0.2: at least 0.2 * exp(3) / Z, i.e. logit >= 3 + ln 0.2 = 1.39 */
  o.top_p = 1;
  o.min_p = 0.2f;
  CHECK(draws_follow(&o, 1, top2));
  /* greedy, and filters that leave one token, always give the argmax */
  llm_sample_opts_default(&o);
  o.temperature = 0;
  draw(&o, 100, f);
  CHECK(f[3] > 0.999999);
  llm_sample_opts_default(&o);
  o.top_k = 1;
  draw(&o, 1000, f);
  CHECK(f[3] > 0.999999);
}

static void test_sampler_penalty_logprob_and_checks(void) {
  llm_sampler *s;
  llm_err err;
  llm_rng r;
  llm_rng_seed(&r, 1);
  CHECK(llm_sampler_new(SV, &s, &err) == LLM_OK);
  llm_sample_opts o;
  llm_sample_opts_default(&o);
  o.temperature = 0;
  o.repetition_penalty = 2;
  float l[SV];
  memcpy(l, base_logits, sizeof l);
  int32_t hist[] = {3, 3, 4};
  float lp;
  /* 3 (logit 3) becomes 1.5 < 2: token 0 wins; -1 becomes -2 */
  CHECK(llm_sample(s, &o, l, hist, 3, &r, &lp) == 0);
  CHECK(l[3] == 1.5f && l[4] == -2.0f && l[0] == 2.0f);
  /* the logprob is the model's own: log softmax of the logits as given */
  double z = 0;
  for (int i = 0; i < SV; i++) z += exp(base_logits[i]);
  CHECK(fabs(lp - (2.0 - log(z))) < 1e-5);
  llm_sampler_free(s);
  struct { float t, p, mp, rp; int k; } bad[] = {
      {-1, 1, 0, 1, 0}, {1, 0, 0, 1, 0}, {1, 1.5f, 0, 1, 0}, {1, 1, -0.1f, 1, 0}, {1, 1, 0, 0, 0}, {1, 1, 0, 1, -1}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    llm_sample_opts b = {bad[i].t, bad[i].k, bad[i].p, bad[i].mp, bad[i].rp};
    CHECK(llm_sample_opts_check(&b, &err) == LLM_ERANGE);
  }
}

/* ---------------------------------------------------------------------- */
/* Generation                                                              */

static llm_tokenizer *byte_tokenizer(void) {
  llm_tokenizer *t;
  llm_err err;
  if (llm_tokenizer_new(&t, V, 0, &err)) return NULL;
  for (int b = 0; b < 256; b++) {
    uint8_t c = (uint8_t)b;
    llm_tokenizer_set(t, b, LLM_TOKEN_BYTE, &c, 1, -1, -1, -1, &err);
  }
  llm_tokenizer_set(t, 256, LLM_TOKEN_SPECIAL, (const uint8_t *)"<|endoftext|>", 13, -1, -1, -1, &err);
  return llm_tokenizer_finish(t, &err) ? NULL : t;
}

/* Generates greedily; returns the tokens (count in *n) and finish. */
static int generate(llm_gen *g, const llm_tokenizer *tok, const llm_gen_opts *o, const int32_t *prompt, int np,
                    int32_t *out, int *n) {
  llm_err err;
  *n = 0;
  if (llm_gen_start(g, o, prompt, (size_t)np, pool2, NULL, &err)) return -1;
  while (!llm_gen_finish(g)) {
    int32_t t;
    float lp;
    if (llm_gen_step(g, tok, pool2, &t, &lp, &err)) return -1;
    out[(*n)++] = t;
  }
  return llm_gen_finish(g);
}

/* A model, byte tokenizer, inference state and generator, and default
** options with no end tokens. */
typedef struct gen_fix {
  llm_model *m;
  llm_tokenizer *tok;
  llm_infer *s;
  llm_gen *g;
} gen_fix;

static int gen_fix_new(gen_fix *f, llm_gen_opts *o) {
  llm_err err;
  memset(f, 0, sizeof *f);
  memset(o, 0, sizeof *o);
  llm_sample_opts_default(&o->sample);
  o->eos_id = o->bos_id = -1;
  o->kv_type = kv;
  f->m = new_model();
  f->tok = byte_tokenizer();
  return f->m && f->tok && llm_infer_new_model(f->m, &f->s, &err) == LLM_OK && llm_gen_new(f->s, &f->g, &err) == LLM_OK;
}

static void gen_fix_free(gen_fix *f) {
  llm_gen_free(f->g);
  llm_infer_free(f->s);
  llm_tokenizer_free(f->tok);
  llm_model_free(f->m);
}

static void test_generation_slides_like_a_naive_generator(void) {
  gen_fix fx;
  llm_gen_opts o;
  CHECK(gen_fix_new(&fx, &o));
  llm_model *m = fx.m;
  llm_tokenizer *tok = fx.tok;
  llm_gen *g = fx.g;
  o.sample.temperature = 0;
  o.max_tokens = 3 * P;
  int32_t prompt[P + 5], out[3 * P];
  random_tokens(prompt, P + 5, 5);
  int n;
  CHECK(generate(g, tok, &o, prompt, P + 5, out, &n) == LLM_FINISH_LENGTH && n == 3 * P);
  /* the naive generator: the window is the last P prompt tokens, grows by
  ** one per token, and restarts on the last P/2 tokens when full */
  int32_t ctx[P + 5 + 3 * P];
  memcpy(ctx, prompt, sizeof prompt);
  int len = P + 5, wbegin = len - P, ok = 1;
  for (int i = 0; i < n; i++) {
    float *l = train_logits(m, ctx + wbegin, len - wbegin);
    const float *last = l + (size_t)(len - wbegin - 1) * V;
    float mx = -INFINITY;
    for (int v = 0; v < 256; v++) mx = fmaxf(mx, last[v]);
    if (last[out[i]] < mx - 1e-4f) ok = 0; /* the choice is the argmax */
    free(l);
    ctx[len++] = out[i];
    if (len - wbegin > P) wbegin = len - P / 2;
  }
  CHECK(ok);
  /* the text is the tokens' bytes */
  size_t tl;
  const uint8_t *text = llm_gen_text(g, &tl);
  CHECK(tl == (size_t)n);
  for (int i = 0; i < n && tl == (size_t)n; i++) CHECK(text[i] == out[i]);
  gen_fix_free(&fx);
}

static void test_generation_stops(void) {
  gen_fix fx;
  llm_gen_opts o;
  llm_err err;
  CHECK(gen_fix_new(&fx, &o));
  llm_tokenizer *tok = fx.tok;
  llm_gen *g = fx.g;
  o.sample.temperature = 0.8f;
  o.seed = 3;
  o.max_tokens = 40;
  int32_t prompt[3] = {65, 66, 67}, out[64], again[64];
  int n, n2;
  CHECK(generate(g, tok, &o, prompt, 3, out, &n) == LLM_FINISH_LENGTH && n == 40);
  CHECK(generate(g, tok, &o, prompt, 3, again, &n2) == LLM_FINISH_LENGTH && n2 == 40);
  CHECK(!memcmp(out, again, sizeof(int32_t) * 40)); /* the seed fixes the text */
  uint8_t full[40];
  for (int i = 0; i < 40; i++) full[i] = (uint8_t)out[i];
  /* a stop string taken from the text: it ends where it first occurs */
  llm_bytes stop = {full + 20, 3};
  int k = 0;
  while (memcmp(full + k, stop.data, 3)) k++;
  o.stops = &stop;
  o.n_stops = 1;
  size_t len, last_stable = 0;
  int stable_ok = 1;
  CHECK(llm_gen_start(g, &o, prompt, 3, pool2, NULL, &err) == LLM_OK);
  while (!llm_gen_finish(g)) {
    int32_t t;
    float lp;
    CHECK(llm_gen_step(g, tok, pool2, &t, &lp, &err) == LLM_OK);
    size_t st = llm_gen_stable(g);
    const uint8_t *text = llm_gen_text(g, &len);
    /* what is stable never changes: it is a prefix of the final text */
    if (st < last_stable || st > len || (st > (size_t)k && llm_gen_finish(g) == LLM_FINISH_NONE)) stable_ok = 0;
    if (memcmp(text, full, st < (size_t)k ? st : (size_t)k)) stable_ok = 0;
    last_stable = st;
  }
  CHECK(stable_ok);
  CHECK(llm_gen_finish(g) == LLM_FINISH_STOP);
  llm_gen_text(g, &len);
  CHECK(len == (size_t)k);
  CHECK(llm_gen_count(g) == k + 3);
  /* end of text: a token sampled the first time it comes up */
  o.stops = NULL;
  o.n_stops = 0;
  o.eos_id = out[7];
  int j = 0;
  while (out[j] != out[7]) j++;
  CHECK(generate(g, tok, &o, prompt, 3, again, &n2) == LLM_FINISH_EOS);
  CHECK(n2 == j + 1 && again[j] == out[7]);
  llm_gen_text(g, &len);
  CHECK(len == (size_t)j);
  /* max_tokens 0: nothing at all */
  o.max_tokens = 0;
  CHECK(generate(g, tok, &o, prompt, 3, again, &n2) == LLM_FINISH_LENGTH && n2 == 0);
  llm_gen_text(g, &len);
  CHECK(len == 0);
  o.max_tokens = -1;
  CHECK(llm_gen_start(g, &o, prompt, 3, pool2, NULL, &err) == LLM_ERANGE);
  gen_fix_free(&fx);
}

/* The tests above that depend on the architecture, for the Llama block:
** rotary positions at every offset, the grouped cache, SwiGLU, the
** separate head. */
static void test_llama_all(void) {
  arch = LLM_ARCH_LLAMA;
  test_prefill_matches_training_forward();
  test_decode_and_mixed_chunks_match();
  test_score_over_windows();
  test_embed_pooling();
  test_generation_slides_like_a_naive_generator();
  arch = LLM_ARCH_GPT;
}

/* The inference pass of the blocks that fine-tuned imports train with
** (model.h) computes what their training forward does: Llama 3's
** frequency factors, Qwen2's biases and partial NeoX rotary, Qwen3's
** per-head norms and wide heads, Gemma 3's sliding windows (5 of 16
** positions) and the rest. */
static void test_family_all(void) {
  static const int archs[] = {LLM_ARCH_LLAMA, LLM_ARCH_QWEN2, LLM_ARCH_QWEN3, LLM_ARCH_GEMMA3};
  for (int i = 0; i < 4; i++) {
    arch = archs[i];
    llama3 = arch == LLM_ARCH_LLAMA;
    test_prefill_matches_training_forward();
    test_decode_and_mixed_chunks_match();
  }
  arch = LLM_ARCH_GPT;
  llama3 = 0;
}

/* ---- many sequences at once (batch.h) ---- */

/* Logits [V] of a sequence's last forward row, copied. */
static float *copy_logits(const float *l) {
  float *c = malloc(V * sizeof *c);
  memcpy(c, l, V * sizeof *c);
  return c;
}

/* Sequences of different lengths run alone and together in any mix give
** bitwise the same logits: all prompts in one forward, then decode steps
** of all of them together, then two restarting with new prompts while the
** others decode. */
static void test_batch_forward_is_bitwise_solo(void) {
  enum { S = 5, STEPS = 3 };
  static const int len[S] = {1, 7, P, 3, 12};
  llm_model *m = new_model();
  llm_infer *solo, *ws, *seqs[S];
  llm_err err;
  CHECK(m && seq_new(m, NULL, &solo) == LLM_OK && seq_new(m, NULL, &ws) == LLM_OK);
  for (int i = 0; i < S; i++) CHECK(seq_new(NULL, llm_infer_net(ws), &seqs[i]) == LLM_OK);
  int32_t tok[S][P], next[STEPS][S], fresh[2][5];
  for (int i = 0; i < S; i++) random_tokens(tok[i], len[i], 20 + (uint64_t)i);
  random_tokens(&next[0][0], STEPS * S, 40);
  random_tokens(&fresh[0][0], 10, 41);
  /* alone: prompt, then STEPS tokens (those that fit) */
  float *want[S][STEPS + 1];
  memset(want, 0, sizeof want);
  for (int i = 0; i < S; i++) {
    llm_infer_reset(solo);
    CHECK(llm_infer_forward(solo, tok[i], len[i], pool2, &err) == LLM_OK);
    want[i][0] = copy_logits(llm_infer_logits(solo, len[i] - 1, 1, pool2));
    for (int t = 0; t < STEPS && len[i] + t < P; t++) {
      CHECK(llm_infer_forward(solo, &next[t][i], 1, pool2, &err) == LLM_OK);
      want[i][t + 1] = copy_logits(llm_infer_logits(solo, 0, 1, pool2));
    }
  }
  /* together */
  const int32_t *tp[S];
  int n[S], rows[S], same = 1;
  for (int i = 0; i < S; i++) tp[i] = tok[i], n[i] = len[i], rows[i] = len[i] - 1;
  CHECK(llm_infer_forward_batch(ws, seqs, tp, n, S, pool2, &err) == LLM_OK);
  const float *l = llm_infer_logits_batch(ws, seqs, rows, S, pool2);
  for (int i = 0; l && i < S; i++) same &= !memcmp(l + (size_t)i * V, want[i][0], V * sizeof *l);
  CHECK(l && same);
  for (int t = 0; t < STEPS; t++) {
    llm_infer *live[S];
    int k = 0, idx[S];
    for (int i = 0; i < S; i++)
      if (want[i][t + 1]) live[k] = seqs[i], tp[k] = &next[t][i], n[k] = 1, rows[k] = 0, idx[k++] = i;
    CHECK(llm_infer_forward_batch(ws, live, tp, n, k, pool2, &err) == LLM_OK);
    l = llm_infer_logits_batch(ws, live, rows, k, pool2);
    for (int j = 0; l && j < k; j++) same &= !memcmp(l + (size_t)j * V, want[idx[j]][t + 1], V * sizeof *l);
    CHECK(l && same);
  }
  /* a mix: sequences 0 and 3 start afresh on new prompts beside sequence 1's next token */
  float *mix[3];
  int32_t one = 7;
  llm_infer_reset(solo);
  CHECK(llm_infer_forward(solo, fresh[0], 5, pool2, &err) == LLM_OK);
  mix[0] = copy_logits(llm_infer_logits(solo, 4, 1, pool2));
  llm_infer_reset(solo);
  CHECK(llm_infer_forward(solo, fresh[1], 2, pool2, &err) == LLM_OK);
  mix[2] = copy_logits(llm_infer_logits(solo, 1, 1, pool2));
  llm_infer_reset(solo); /* sequence 1 so far, then the token */
  CHECK(llm_infer_forward(solo, tok[1], len[1], pool2, &err) == LLM_OK);
  for (int t = 0; t < STEPS; t++) CHECK(llm_infer_forward(solo, &next[t][1], 1, pool2, &err) == LLM_OK);
  CHECK(llm_infer_forward(solo, &one, 1, pool2, &err) == LLM_OK);
  mix[1] = copy_logits(llm_infer_logits(solo, 0, 1, pool2));
  llm_infer_reset(seqs[0]);
  llm_infer_reset(seqs[3]);
  llm_infer *trio[3] = {seqs[0], seqs[1], seqs[3]};
  const int32_t *tt[3] = {fresh[0], &one, fresh[1]};
  int tn[3] = {5, 1, 2}, tr[3] = {4, 0, 1};
  CHECK(llm_infer_forward_batch(ws, trio, tt, tn, 3, pool2, &err) == LLM_OK);
  l = llm_infer_logits_batch(ws, trio, tr, 3, pool2);
  for (int j = 0; l && j < 3; j++) same &= !memcmp(l + (size_t)j * V, mix[j], V * sizeof *l);
  CHECK(l && same);
  for (int j = 0; j < 3; j++) free(mix[j]);
  for (int i = 0; i < S; i++) {
    for (int t = 0; t <= STEPS; t++) free(want[i][t]);
    llm_infer_free(seqs[i]);
  }
  llm_infer_free(ws);
  llm_infer_free(solo);
  llm_model_free(m);
}

/* Generations through llm_batch with fewer slots than texts (continuous
** batching: each freed slot takes the next), sampled with their own seeds,
** some sliding their window, some over before any token: the same tokens
** and text as each alone. */
static void test_batch_generation_is_bitwise_solo(void) {
  enum { N = 7 };
  gen_fix fx;
  llm_gen_opts o[N];
  CHECK(gen_fix_new(&fx, &o[0]));
  for (int i = 1; i < N; i++) o[i] = o[0];
  int32_t prompt[N][P];
  int plen[N];
  for (int i = 0; i < N; i++) {
    plen[i] = 1 + (i * 5) % P;
    random_tokens(prompt[i], plen[i], 60 + (uint64_t)i);
    o[i].seed = 100 + (uint64_t)i;
    o[i].sample.temperature = i % 3 ? 0.9f : 0;
    o[i].max_tokens = i == 4 ? 0 : 3 + 5 * i; /* up to 33: past the context of 16 */
  }
  uint8_t *want[N];
  size_t want_len[N];
  for (int i = 0; i < N; i++) {
    int32_t out[64];
    int n;
    generate(fx.g, fx.tok, &o[i], prompt[i], plen[i], out, &n);
    const uint8_t *t = llm_gen_text(fx.g, &want_len[i]);
    want[i] = malloc(want_len[i] + 1);
    memcpy(want[i], t, want_len[i]);
  }
  llm_batch *b;
  llm_err err;
  CHECK(llm_batch_new(llm_infer_net(fx.s), 3, &b, &err) == LLM_OK);
  int next = 0, done = 0, owner[3], ok = 1, guard = 0;
  while (b && done < N && guard++ < 1000) {
    while (next < N && llm_batch_free_slots(b)) {
      int sl;
      CHECK(llm_batch_add(b, &o[next], prompt[next], (size_t)plen[next], &sl, &err) == LLM_OK);
      owner[sl] = next++;
    }
    CHECK(llm_batch_step(b, fx.tok, pool2, NULL, &err) == LLM_OK);
    int sl;
    while ((sl = llm_batch_done(b)) >= 0) {
      size_t tl;
      const uint8_t *t = llm_gen_text(llm_batch_gen(b, sl), &tl);
      ok &= tl == want_len[owner[sl]] && !memcmp(t, want[owner[sl]], tl);
      llm_batch_release(b, sl);
      done++;
    }
  }
  CHECK(done == N && ok && b && llm_batch_active(b) == 0);
  llm_batch_free(b);
  for (int i = 0; i < N; i++) free(want[i]);
  gen_fix_free(&fx);
}

/* Embeddings of texts of different lengths, some longer than the context
** (mean pooling over windows: alone), in one call: llm_embed's, bitwise. */
static void test_batch_embeddings_are_bitwise_solo(void) {
  enum { N = 4 };
  static const size_t len[N] = {3, P, 2 * P + 3, 9};
  llm_model *m = new_model();
  llm_infer *solo, *ws, *seqs[N];
  llm_err err;
  CHECK(m && seq_new(m, NULL, &solo) == LLM_OK && seq_new(m, NULL, &ws) == LLM_OK);
  for (int i = 0; i < N; i++) CHECK(seq_new(NULL, llm_infer_net(ws), &seqs[i]) == LLM_OK);
  int32_t tok[N][2 * P + 3];
  const int32_t *tp[N];
  size_t first[N];
  float want[N][32], got[N][32];
  float *outs[N];
  for (int pooling = LLM_POOL_MEAN; pooling <= LLM_POOL_CLS; pooling++) {
    int same = 1;
    for (int i = 0; i < N; i++) {
      random_tokens(tok[i], (int)len[i], 70 + (uint64_t)i);
      tp[i] = tok[i], first[i] = i % 2, outs[i] = got[i];
      CHECK(llm_embed(solo, tok[i], len[i], first[i], pooling, 1, pool2, NULL, want[i], &err) == LLM_OK);
    }
    CHECK(llm_embed_batch(ws, seqs, tp, len, first, N, pooling, 1, pool2, NULL, outs, &err) == LLM_OK);
    for (int i = 0; i < N; i++) same &= !memcmp(want[i], got[i], sizeof want[i]);
    CHECK(same);
  }
  for (int i = 0; i < N; i++) llm_infer_free(seqs[i]);
  llm_infer_free(ws);
  llm_infer_free(solo);
  llm_model_free(m);
}

/* (with either type of cache: the sequences of a batch may differ too) */
static void test_batch_all(void) {
  static const int archs[] = {LLM_ARCH_GPT, LLM_ARCH_LLAMA, LLM_ARCH_GEMMA3};
  for (kv = LLM_KV_F32; kv <= LLM_KV_F16; kv++)
    for (int i = 0; i < 3; i++) {
      arch = archs[i];
      test_batch_forward_is_bitwise_solo();
      test_batch_generation_is_bitwise_solo();
      test_batch_embeddings_are_bitwise_solo();
    }
  kv = LLM_KV_F32;
  arch = LLM_ARCH_GPT;
}

/* ---- a KV cache of halves ---- */

/* Largest |logit| of the training forward over chunked_diff's tokens. */
static double logit_scale(llm_model *m) {
  int32_t tok[P];
  random_tokens(tok, P, 3);
  float *l = train_logits(m, tok, P);
  double mx = 0;
  for (size_t i = 0; l && i < (size_t)P * V; i++) mx = fmax(mx, fabs(l[i]));
  free(l);
  return mx;
}

/* Generates greedily max_tokens (past the context: the window slides)
** with a cache of floats and of halves; returns how many tokens agree. */
static int greedy_agreement(int max_tokens) {
  int32_t out[2][64], prompt[4] = {'a', 'b', 'c', 'd'};
  int n[2];
  for (kv = LLM_KV_F32; kv <= LLM_KV_F16; kv++) {
    gen_fix fx;
    llm_gen_opts o;
    if (!gen_fix_new(&fx, &o)) return -1;
    o.sample.temperature = 0;
    o.max_tokens = max_tokens;
    generate(fx.g, fx.tok, &o, prompt, 4, out[kv], &n[kv]);
    gen_fix_free(&fx);
  }
  kv = LLM_KV_F32;
  int same = 0;
  for (int i = 0; i < max_tokens && n[0] == max_tokens && n[1] == max_tokens; i++) same += out[0][i] == out[1][i];
  return same;
}

/* Logits with a cache of halves stay within the halves' rounding of the
** training forward's (3e-3 of the largest logit: a few halves' relative
** precision, 2^-11), however the tokens go in (prefill, one at a time, a
** mix), and differ from it by more than a float cache does (1e-6: the
** halves are in use); prefill (halves widened into sgemm) and decode
** (llm_vattend_f16) agree to float rounding, since they read the same
** halves; greedy generation mostly picks the floats' tokens. */
static void test_kv_f16_close_to_f32(void) {
  static const int archs[] = {LLM_ARCH_GPT, LLM_ARCH_LLAMA, LLM_ARCH_QWEN3, LLM_ARCH_GEMMA3};
  for (int a = 0; a < 4; a++) {
    arch = archs[a];
    llm_model *m = new_model();
    double scale = logit_scale(m), tol = 3e-3 * scale;
    int whole[] = {P}, ones[P], mixed[] = {5, 1, 3, 1, 1, 4, 1};
    for (int i = 0; i < P; i++) ones[i] = 1;
    kv = LLM_KV_F16;
    double d_whole = chunked_diff(m, pool2, whole, 1), d_ones = chunked_diff(m, pool2, ones, P);
    CHECK(d_whole < tol && d_ones < tol && chunked_diff(m, NULL, mixed, 7) < tol);
    CHECK(d_whole > 1e-5 * scale);
    /* prefill against decode, row by row */
    int32_t tok[P];
    random_tokens(tok, P, 3);
    llm_infer *pre, *dec;
    llm_err err;
    CHECK(seq_new(m, NULL, &pre) == LLM_OK && seq_new(m, NULL, &dec) == LLM_OK);
    CHECK(llm_infer_forward(pre, tok, P, pool2, &err) == LLM_OK);
    double d = 0;
    for (int r = 0; r < P; r++) {
      CHECK(llm_infer_forward(dec, tok + r, 1, pool2, &err) == LLM_OK);
      float *l = copy_logits(llm_infer_logits(dec, 0, 1, pool2));
      d = fmax(d, max_diff(llm_infer_logits(pre, r, 1, pool2), l, V));
      free(l);
    }
    CHECK(d < 1e-4 * scale);
    llm_infer_free(pre);
    llm_infer_free(dec);
    kv = LLM_KV_F32;
    llm_model_free(m);
    CHECK(greedy_agreement(40) >= 30);
  }
  arch = LLM_ARCH_GPT;
}

/* The type is the sequence's: set before use or after a reset; a change
** empties the sequence (its cache is freed), the same type keeps it. */
static void test_kv_type_setting(void) {
  llm_model *m = new_model();
  llm_infer *s;
  llm_err err;
  int32_t tok[4] = {1, 2, 3, 4};
  CHECK(m && llm_infer_new_model(m, &s, &err) == LLM_OK);
  CHECK(llm_infer_kv_type(s) == LLM_KV_F32);
  CHECK(llm_infer_forward(s, tok, 4, pool2, &err) == LLM_OK);
  CHECK(llm_infer_set_kv_type(s, LLM_KV_F32, &err) == LLM_OK && llm_infer_pos(s) == 4);
  CHECK(llm_infer_set_kv_type(s, LLM_KV_F16, &err) == LLM_OK && llm_infer_pos(s) == 0);
  CHECK(llm_infer_kv_type(s) == LLM_KV_F16);
  CHECK(llm_infer_set_kv_type(s, 7, &err) == LLM_EINVAL && strstr(err.msg, "KV cache"));
  CHECK(llm_infer_kv_type(s) == LLM_KV_F16);
  CHECK(llm_infer_forward(s, tok, 4, pool2, &err) == LLM_OK && llm_infer_pos(s) == 4);
  llm_infer_free(s);
  llm_model_free(m);
}

int main(void) {
  llm_err err;
  if (llm_pool_new(2, &pool2, &err)) return 1;
  RUN(test_prefill_matches_training_forward);
  RUN(test_decode_and_mixed_chunks_match);
  RUN(test_forward_rejects_bad_calls);
  RUN(test_score_over_windows);
  RUN(test_embed_pooling);
  RUN(test_llama_all);
  RUN(test_family_all);
  RUN(test_sampler_distribution_and_filters);
  RUN(test_sampler_penalty_logprob_and_checks);
  RUN(test_generation_slides_like_a_naive_generator);
  RUN(test_generation_stops);
  RUN(test_batch_all);
  RUN(test_kv_f16_close_to_f32);
  RUN(test_kv_type_setting);
  llm_pool_free(pool2);
  return CHECK_DONE();
}
