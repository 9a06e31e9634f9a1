/*
** generate.c: the sampler and the generator of generate.h.
**
** The filters need the candidates in order of probability. A full sort of
** the vocabulary per token would cost more than the model on small
** models, so: top_k selects its k first (quickselect, then a sort of the k);
** top_p alone first drops every token below (1 - top_p) / (V - 1), which
** cannot change the nucleus (all the dropped ones together weigh less than
** 1 - top_p), and sorts what is left.
*/
#include "nn/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/vec.h"
#include "text/json_constrain.h"

void llm_sample_opts_default(llm_sample_opts *o) {
  o->temperature = 1.0f;
  o->top_k = 0;
  o->top_p = 1.0f;
  o->min_p = 0.0f;
  o->repetition_penalty = 1.0f;
}

int llm_sample_opts_check(const llm_sample_opts *o, llm_err *err) {
  if (!(o->temperature >= 0 && o->temperature <= 1e6f))
    return llm_fail(err, LLM_ERANGE, "option \"temperature\" must be >= 0 (0 is greedy)");
  if (o->top_k < 0) return llm_fail(err, LLM_ERANGE, "option \"top_k\" must be >= 0 (0: no limit)");
  if (!(o->top_p > 0 && o->top_p <= 1))
    return llm_fail(err, LLM_ERANGE, "option \"top_p\" must be in (0, 1]");
  if (!(o->min_p >= 0 && o->min_p <= 1))
    return llm_fail(err, LLM_ERANGE, "option \"min_p\" must be in [0, 1]");
  if (!(o->repetition_penalty > 0 && o->repetition_penalty <= 1e6f))
    return llm_fail(err, LLM_ERANGE, "option \"repetition_penalty\" must be > 0 (1: none)");
  return LLM_OK;
}

/* ---------------------------------------------------------------------- */
/* Sampler                                                                 */

typedef struct cand {
  float p;
  int32_t id;
} cand;

struct llm_sampler {
  int32_t V;
  int simd;
  float *raw;    /* the logits as given, for the log-probability */
  cand *c;
  uint8_t *seen; /* repetition penalty: tokens already penalised */
};

int llm_sampler_new(int32_t V, llm_sampler **out, llm_err *err) {
  *out = NULL;
  llm_sampler *s = llm_calloc(1, sizeof *s);
  if (s) {
    s->V = V;
    s->simd = llm_simd_best();
    s->raw = llm_malloc((size_t)V * sizeof *s->raw);
    s->c = llm_malloc((size_t)V * sizeof *s->c);
    s->seen = llm_calloc((size_t)V, 1);
  }
  if (!s || !s->raw || !s->c || !s->seen) {
    llm_sampler_free(s);
    return llm_fail(err, LLM_ENOMEM, "out of memory for the sampler");
  }
  *out = s;
  return LLM_OK;
}

void llm_sampler_free(llm_sampler *s) {
  if (!s) return;
  llm_free(s->raw);
  llm_free(s->c);
  llm_free(s->seen);
  llm_free(s);
}

/* Candidate order: more probable first, then the lower id (a total order,
** so every selection and sort below is deterministic). */
static int cand_before(const cand *a, const cand *b) {
  return a->p > b->p || (a->p == b->p && a->id < b->id);
}

static int cand_cmp(const void *x, const void *y) {
  const cand *a = x, *b = y;
  return cand_before(a, b) ? -1 : cand_before(b, a) ? 1 : 0;
}

static void cand_swap(cand *a, cand *b) {
  cand t = *a;
  *a = *b;
  *b = t;
}

/* Moves the k first candidates of c[0..n) (in cand order) to c[0..k). */
static void select_first(cand *c, size_t n, size_t k) {
  size_t lo = 0, hi = n; /* the k-th lies in [lo, hi) */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    /* median of three as the pivot, moved to hi - 1 */
    if (cand_before(&c[hi - 1], &c[lo])) cand_swap(&c[hi - 1], &c[lo]);
    if (cand_before(&c[mid], &c[lo])) cand_swap(&c[mid], &c[lo]);
    if (cand_before(&c[hi - 1], &c[mid])) cand_swap(&c[hi - 1], &c[mid]);
    cand_swap(&c[mid], &c[hi - 1]);
    size_t store = lo;
    for (size_t i = lo; i + 1 < hi; i++)
      if (cand_before(&c[i], &c[hi - 1])) cand_swap(&c[i], &c[store++]);
    cand_swap(&c[store], &c[hi - 1]);
    if (store == k - 1 || store == k) return;
    if (store < k) lo = store + 1;
    else hi = store;
  }
}

/* The first index of the largest value. The maximum comes from a vector
** pass and the index from a plain scan that stops early: a scalar
** compare-and-track loop costs ~25 us over a 32000-token vocabulary, a
** percent of a decode step. The slow loop is kept for NaNs, which the
** vector maximum may drop. */
static int32_t argmax(int simd, const float *x, int32_t V) {
  float mx = llm_vmax(simd, x, (size_t)V);
  for (int32_t i = 0; i < V; i++)
    if (x[i] == mx) return i;
  int32_t best = 0;
  for (int32_t i = 1; i < V; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

int32_t llm_sample(llm_sampler *s, const llm_sample_opts *o, float *logits,
                   const int32_t *history, size_t n_history, llm_rng *rng, float *logprob) {
  int32_t V = s->V, tok;
  int simd = s->simd;
  /* the log-probability is of the logits as given: keep them when they
  ** are about to be changed in place */
  int changes = o->repetition_penalty != 1.0f || o->temperature != 0;
  const float *raw = logprob && changes ? s->raw : logits;
  if (raw != logits) memcpy(s->raw, logits, (size_t)V * sizeof *logits);
  if (o->repetition_penalty != 1.0f) {
    for (size_t i = 0; i < n_history; i++) {
      int32_t t = history[i];
      if (t < 0 || t >= V || s->seen[t]) continue;
      s->seen[t] = 1;
      logits[t] = logits[t] > 0 ? logits[t] / o->repetition_penalty
                                : logits[t] * o->repetition_penalty;
    }
    for (size_t i = 0; i < n_history; i++)
      if (history[i] >= 0 && history[i] < V) s->seen[history[i]] = 0;
  }
  if (o->temperature == 0) {
    tok = argmax(simd, logits, V);
  } else {
    /* probabilities at this temperature, unnormalised: exp((l - max) / T) */
    float mx = llm_vmax(simd, logits, (size_t)V);
    llm_vscale(simd, logits, (size_t)V, 1.0f / o->temperature);
    float total = llm_vexp_sum(simd, logits, logits, (size_t)V, mx / o->temperature);
    float floor_p = o->min_p; /* relative to the most likely, whose term is exp(0) = 1 */
    if (o->top_k == 0 && o->top_p < 1 && V > 1) {
      float f = (1 - o->top_p) / (float)(V - 1) * total;
      floor_p = f > floor_p ? f : floor_p;
    }
    int filtered = o->top_k > 0 || o->top_p < 1 || o->min_p > 0;
    size_t n = 0;
    for (int32_t i = 0; filtered && i < V; i++)
      if (logits[i] >= floor_p) s->c[n++] = (cand){logits[i], i};
    if (o->top_k > 0 && (size_t)o->top_k < n) {
      select_first(s->c, n, (size_t)o->top_k);
      n = (size_t)o->top_k;
    }
    if (o->top_p < 1) {
      qsort(s->c, n, sizeof *s->c, cand_cmp);
      double kept = 0, cum = 0;
      for (size_t i = 0; i < n; i++) kept += s->c[i].p;
      size_t cut = n;
      for (size_t i = 0; i < n; i++) {
        cum += s->c[i].p;
        if (cum >= o->top_p * kept) {
          cut = i + 1;
          break;
        }
      }
      n = cut;
    }
    /* draw: candidates in id order when unfiltered, else in list order */
    double sum = filtered ? 0 : total;
    for (size_t i = 0; i < n; i++) sum += s->c[i].p;
    double r = (double)llm_rng_uniform(rng) * sum, acc = 0;
    tok = -1;
    if (!filtered) {
      for (int32_t i = 0; i < V && tok < 0; i++)
        if ((acc += logits[i]) > r) tok = i;
      if (tok < 0) tok = argmax(simd, logits, V); /* r at the rounding edge */
    } else {
      for (size_t i = 0; i < n && tok < 0; i++)
        if ((acc += s->c[i].p) > r) tok = s->c[i].id;
      if (tok < 0) tok = s->c[n ? n - 1 : 0].id;
    }
  }
  if (logprob) {
    float mx = llm_vmax(simd, raw, (size_t)V);
    double lse = mx + log((double)llm_vexp_sum(simd, NULL, raw, (size_t)V, mx));
    *logprob = (float)((double)raw[tok] - lse);
  }
  return tok;
}

/* ---------------------------------------------------------------------- */
/* Generator                                                               */

const char *llm_finish_name(int finish) {
  switch (finish) {
    case LLM_FINISH_EOS: return "eos";
    case LLM_FINISH_STOP: return "stop";
    case LLM_FINISH_LENGTH: return "length";
    case LLM_FINISH_JSON: return "json";
    default: return NULL;
  }
}

struct llm_gen {
  llm_infer *s;
  llm_sampler *smp;
  llm_gen_opts o;
  llm_rng rng;
  llm_ids ctx;   /* every token of the sequence: prompt, then generated */
  llm_buf text;  /* the generated bytes */
  float *logits; /* for the next token, [V] */
  int64_t count;
  int finish;
  llm_jcon_state *json; /* the constraint's state (kept for its cached masks) */
  llm_jcon_vocab *json_vocab; /* a reference to o.json_vocab */
  int json_complete;    /* llm_jcon_complete of the state, kept from the last feed */
  uint8_t *allowed;     /* [V]: the tokens the constraint allows next */
  /* the forward the sequence needs next: ctx[run_at..) after a reset
  ** (fresh: a prompt, or the window sliding), or the newest token */
  int pending, fresh;
  size_t run_at;
};

int llm_gen_new(llm_infer *s, llm_gen **out, llm_err *err) {
  *out = NULL;
  int32_t V = llm_infer_config(s)->vocab_size;
  llm_gen *g = llm_calloc(1, sizeof *g);
  if (!g) return llm_fail(err, LLM_ENOMEM, "out of memory");
  g->s = s;
  g->logits = llm_malloc((size_t)V * sizeof *g->logits);
  int rc = g->logits ? llm_sampler_new(V, &g->smp, err)
                     : llm_fail(err, LLM_ENOMEM, "out of memory");
  if (rc) {
    llm_gen_free(g);
    return rc;
  }
  *out = g;
  return LLM_OK;
}

void llm_gen_free(llm_gen *g) {
  if (!g) return;
  llm_sampler_free(g->smp);
  llm_ids_free(&g->ctx);
  llm_buf_free(&g->text);
  llm_free(g->logits);
  llm_jcon_state_free(g->json);
  llm_jcon_vocab_free(g->json_vocab);
  llm_free(g->allowed);
  llm_free(g);
}

/* ---- the JSON constraint ---- */

static int json_begin(llm_gen *g, const llm_gen_opts *o, llm_err *err) {
  if (!o->json_vocab) return llm_fail(err, LLM_EINVAL, "a JSON constraint needs the vocabulary's index");
  if (o->n_stops)
    return llm_fail(err, LLM_EINVAL, "option \"stop\" cannot be combined with a JSON schema: "
                    "generation ends when the value is complete");
  int32_t V = llm_infer_config(g->s)->vocab_size;
  if (llm_jcon_vocab_size(o->json_vocab) > V)
    return llm_fail(err, LLM_EINVAL, "the tokenizer has %d tokens, more than the model's %d",
                    llm_jcon_vocab_size(o->json_vocab), V);
  if (!g->allowed && !(g->allowed = llm_malloc((size_t)V))) return llm_fail(err, LLM_ENOMEM, "out of memory");
  /* the caller's vocabulary may go before the generation does (a
  ** tokenizer replaced meanwhile): hold it */
  if (g->json_vocab != o->json_vocab) {
    llm_jcon_vocab_free(g->json_vocab);
    g->json_vocab = llm_jcon_vocab_ref(o->json_vocab);
  }
  if (!g->json && llm_jcon_state_new(o->json, &g->json, err)) return err->code;
  llm_jcon_restart(g->json, o->json);
  g->json_complete = 0;
  /* one byte per token is what the budget can count on (json_budget.c) */
  int64_t shortest = llm_jcon_rest(g->json);
  if (shortest > o->max_tokens)
    return llm_fail(err, LLM_ERANGE, "the shortest JSON value the schema allows takes %lld tokens, more than "
                    "max_tokens (%lld): raise max_tokens", (long long)shortest, (long long)o->max_tokens);
  return LLM_OK;
}

/* Masks the logits of the tokens that cannot come next. */
static int json_mask(llm_gen *g, const llm_tokenizer *tok, llm_err *err) {
  int32_t V = llm_infer_config(g->s)->vocab_size, n = llm_jcon_vocab_size(g->json_vocab);
  if (n != llm_tokenizer_n_vocab(tok))
    return llm_fail(err, LLM_EINVAL, "the JSON constraint was made for another vocabulary");
  int rc = llm_jcon_mask_budget(g->json, g->json_vocab, g->o.max_tokens - g->count, g->allowed);
  if (rc) return llm_fail(err, rc, "out of memory for the JSON constraint");
  memset(g->allowed + n, 0, (size_t)(V - n));
  /* a complete value that could go on (a number) may also end here */
  if (g->json_complete == LLM_JCON_MAY_STOP)
    for (int32_t t = 0; t < n; t++)
      if (t == g->o.eos_id || t == g->o.bos_id || llm_tokenizer_is_eog(tok, t)) g->allowed[t] = 1;
  int32_t any = 0;
  for (int32_t t = 0; t < V; t++) {
    if (!g->allowed[t]) g->logits[t] = -INFINITY;
    any |= g->allowed[t];
  }
  if (!any) return llm_fail(err, LLM_EINVAL, "no token of the vocabulary can continue the JSON value");
  return LLM_OK;
}

/* The sequence is to start afresh on ctx[from..). */
static void need_from(llm_gen *g, size_t from) {
  g->pending = g->fresh = 1;
  g->run_at = from;
}

/* The newest token is to run next, sliding the window when the cache is
** full (the model starts afresh on the last block_size / 2 tokens). */
static void need_next(llm_gen *g) {
  const llm_config *c = llm_infer_config(g->s);
  if (llm_infer_pos(g->s) < c->block_size) {
    g->pending = 1;
    g->fresh = 0;
    g->run_at = g->ctx.len - 1;
    return;
  }
  size_t keep = c->block_size / 2 ? (size_t)c->block_size / 2 : 1;
  need_from(g, g->ctx.len - keep);
}

int llm_gen_pending(llm_gen *g, const int32_t **tokens, int *n) {
  if (!g->pending) return 0;
  if (g->fresh) llm_infer_reset(g->s);
  g->fresh = 0;
  *tokens = g->ctx.data + g->run_at;
  *n = (int)(g->ctx.len - g->run_at);
  return 1;
}

void llm_gen_take_logits(llm_gen *g, const float *logits) {
  memcpy(g->logits, logits, (size_t)llm_infer_config(g->s)->vocab_size * sizeof *logits);
  g->pending = 0;
}

llm_infer *llm_gen_infer(const llm_gen *g) { return g->s; }

/* Runs what the sequence needs, alone, and keeps the logits of its last
** token. */
static int run_pending(llm_gen *g, llm_pool *pool, llm_err *err) {
  const int32_t *tokens;
  int n;
  if (!llm_gen_pending(g, &tokens, &n)) return LLM_OK;
  int rc = llm_infer_forward(g->s, tokens, n, pool, err);
  if (rc) return rc;
  const float *l = llm_infer_logits(g->s, n - 1, 1, pool);
  if (!l) return llm_fail(err, LLM_ENOMEM, "out of memory for the logits");
  llm_gen_take_logits(g, l);
  return LLM_OK;
}

int llm_gen_begin(llm_gen *g, const llm_gen_opts *o, const int32_t *prompt, size_t n, llm_err *err) {
  g->ctx.len = g->text.len = 0;
  g->count = 0;
  g->finish = LLM_FINISH_NONE;
  g->pending = 0;
  int rc = llm_sample_opts_check(&o->sample, err);
  if (rc) return rc;
  if (o->max_tokens < 0) return llm_fail(err, LLM_ERANGE, "option \"max_tokens\" must be >= 0");
  if (n < 1) return llm_fail(err, LLM_EINVAL, "the prompt has no tokens");
  if (!llm_infer_net(g->s)->tr->decoder)
    return llm_fail(err, LLM_EINVAL, "an encoder model does not generate text (it embeds: llm_embed)");
  if ((rc = llm_infer_set_kv_type(g->s, o->kv_type, err))) return rc;
  if (o->json && (rc = json_begin(g, o, err))) return rc;
  g->o = *o;
  llm_rng_seed(&g->rng, o->seed);
  for (size_t i = 0; i < n; i++)
    if (llm_ids_push(&g->ctx, prompt[i])) return llm_fail(err, LLM_ENOMEM, "out of memory");
  if (o->max_tokens == 0) {
    g->finish = LLM_FINISH_LENGTH;
    return LLM_OK;
  }
  size_t P = (size_t)llm_infer_config(g->s)->block_size;
  need_from(g, n > P ? n - P : 0);
  return LLM_OK;
}

int llm_gen_start(llm_gen *g, const llm_gen_opts *o, const int32_t *prompt, size_t n,
                  llm_pool *pool, const llm_stop *stop, llm_err *err) {
  int rc = llm_gen_begin(g, o, prompt, n, err);
  if (rc || !g->pending) return rc;
  if (stop && stop->fn && stop->fn(stop->arg)) return llm_fail(err, LLM_EINTR, "interrupted");
  return run_pending(g, pool, err);
}

/* Cuts the text at the earliest stop string that ends in its last
** n_new bytes. */
static void find_stop(llm_gen *g, size_t n_new) {
  size_t len = g->text.len, best = len + 1;
  for (size_t i = 0; i < g->o.n_stops; i++) {
    const llm_bytes *st = &g->o.stops[i];
    if (st->len == 0 || st->len > len) continue;
    size_t from = len - n_new + 1 > st->len ? len - n_new + 1 - st->len : 0;
    for (size_t at = from; at + st->len <= len && at < best; at++)
      if (!memcmp(g->text.data + at, st->data, st->len)) {
        best = at;
        break;
      }
  }
  if (best <= len) {
    g->text.len = best;
    g->finish = LLM_FINISH_STOP;
  }
}

int llm_gen_sample(llm_gen *g, const llm_tokenizer *tok, int32_t *token, float *logprob, llm_err *err) {
  *token = -1;
  if (logprob) *logprob = 0;
  if (g->finish) return LLM_OK;
  int32_t V = llm_infer_config(g->s)->vocab_size;
  /* ids past the tokenizer's (a padded table) have no text: never sample them */
  for (int32_t i = llm_tokenizer_n_vocab(tok); i < V; i++) g->logits[i] = -INFINITY;
  if (g->o.json) {
    int rc = json_mask(g, tok, err);
    if (rc) return rc;
  }
  int32_t t = llm_sample(g->smp, &g->o.sample, g->logits, g->ctx.data, g->ctx.len, &g->rng,
                         logprob);
  *token = t;
  g->count++;
  if ((t == g->o.eos_id || t == g->o.bos_id || llm_tokenizer_is_eog(tok, t)) && t >= 0) {
    g->finish = LLM_FINISH_EOS;
    return LLM_OK;
  }
  size_t before_len = g->text.len;
  int32_t prev = g->ctx.len ? g->ctx.data[g->ctx.len - 1] : -1;
  int rc = llm_tokenizer_decode_next(tok, prev, t, &g->text, err);
  if (!rc && llm_ids_push(&g->ctx, t)) rc = llm_fail(err, LLM_ENOMEM, "out of memory");
  if (rc) return rc;
  find_stop(g, g->text.len - before_len);
  if (g->o.json) {
    /* the bytes the token added, which the mask let through */
    if (!llm_jcon_feed(g->json, g->text.data + before_len, g->text.len - before_len))
      return llm_fail(err, LLM_EINVAL, "token %d does not continue the JSON value (a bug: please report it)", t);
    g->json_complete = llm_jcon_complete(g->json);
    if (g->json_complete == LLM_JCON_MUST_STOP) g->finish = LLM_FINISH_JSON;
    else if (!g->json_complete && g->count >= g->o.max_tokens)
      return llm_fail(err, LLM_ERANGE, "the JSON value is not complete after max_tokens (%lld) tokens: "
                      "raise max_tokens", (long long)g->o.max_tokens);
  }
  if (!g->finish && g->count >= g->o.max_tokens) g->finish = LLM_FINISH_LENGTH;
  if (!g->finish) need_next(g);
  return LLM_OK;
}

int llm_gen_step(llm_gen *g, const llm_tokenizer *tok, llm_pool *pool, int32_t *token,
                 float *logprob, llm_err *err) {
  int rc = llm_gen_sample(g, tok, token, logprob, err);
  return rc ? rc : run_pending(g, pool, err);
}

int llm_gen_finish(const llm_gen *g) { return g->finish; }
int64_t llm_gen_count(const llm_gen *g) { return g->count; }

const uint8_t *llm_gen_text(const llm_gen *g, size_t *len) {
  *len = g->text.len;
  return g->text.data ? g->text.data : (const uint8_t *)"";
}

size_t llm_gen_stable(const llm_gen *g) {
  size_t len = g->text.len, hold = 0;
  if (g->finish) return len;
  for (size_t i = 0; i < g->o.n_stops; i++) {
    const llm_bytes *st = &g->o.stops[i];
    for (size_t k = st->len ? st->len - 1 : 0; k > hold; k--)
      if (k <= len && !memcmp(g->text.data + len - k, st->data, k)) {
        hold = k;
        break;
      }
  }
  return len - hold;
}
