/*
** batch.c: continuous batching of generations and batched embeddings
** (batch.h).
**
** A slot is free, generating, or done (finished, waiting to be released).
** Generating slots hold logits for their next token after their first
** forward; a step samples from those, then gathers what every generating
** slot must run (llm_gen_pending: a prompt, a token, a slid window) into
** one llm_infer_forward_batch, and the logits of each one's last row into
** one product.
*/
#include "nn/batch.h"

#include <string.h>

enum { SLOT_FREE = 0, SLOT_RUNNING, SLOT_DONE };

typedef struct bslot {
  int state;
  int has_logits; /* sampled from at the next step */
  llm_infer *s;
  llm_gen *g;
} bslot;

struct llm_batch {
  const llm_net *net;
  llm_infer *ws; /* the scratch of the batched forward */
  int n;
  bslot *slots;
  /* per step: the sequences that run, their tokens and counts, last rows */
  llm_infer **seqs;
  const int32_t **toks;
  int *counts, *rows, *which;
};

int llm_batch_new(const llm_net *net, int slots, llm_batch **out, llm_err *err) {
  *out = NULL;
  if (slots < 1) return llm_fail(err, LLM_EINVAL, "a batch needs at least one slot (got %d)", slots);
  llm_batch *b = llm_calloc(1, sizeof *b);
  if (!b) return llm_fail(err, LLM_ENOMEM, "out of memory");
  b->net = net;
  b->n = slots;
  b->slots = llm_calloc((size_t)slots, sizeof *b->slots);
  b->seqs = llm_calloc((size_t)slots, sizeof *b->seqs);
  b->toks = llm_calloc((size_t)slots, sizeof *b->toks);
  b->counts = llm_calloc((size_t)slots, sizeof *b->counts);
  b->rows = llm_calloc((size_t)slots, sizeof *b->rows);
  b->which = llm_calloc((size_t)slots, sizeof *b->which);
  int rc = b->slots && b->seqs && b->toks && b->counts && b->rows && b->which
               ? llm_infer_new(net, &b->ws, err)
               : llm_fail(err, LLM_ENOMEM, "out of memory");
  for (int i = 0; !rc && i < slots; i++) {
    rc = llm_infer_new(net, &b->slots[i].s, err);
    if (!rc) rc = llm_gen_new(b->slots[i].s, &b->slots[i].g, err);
  }
  if (rc) {
    llm_batch_free(b);
    return rc;
  }
  *out = b;
  return LLM_OK;
}

void llm_batch_free(llm_batch *b) {
  if (!b) return;
  for (int i = 0; b->slots && i < b->n; i++) {
    llm_gen_free(b->slots[i].g);
    llm_infer_free(b->slots[i].s);
  }
  llm_infer_free(b->ws);
  llm_free(b->slots);
  llm_free(b->seqs);
  llm_free(b->toks);
  llm_free(b->counts);
  llm_free(b->rows);
  llm_free(b->which);
  llm_free(b);
}

int llm_batch_free_slots(const llm_batch *b) {
  int k = 0;
  for (int i = 0; i < b->n; i++) k += b->slots[i].state == SLOT_FREE;
  return k;
}

int llm_batch_active(const llm_batch *b) { return b->n - llm_batch_free_slots(b); }

int llm_batch_add(llm_batch *b, const llm_gen_opts *o, const int32_t *prompt, size_t n, int *slot_out,
                  llm_err *err) {
  int i = 0;
  while (i < b->n && b->slots[i].state != SLOT_FREE) i++;
  if (i == b->n) return llm_fail(err, LLM_EINVAL, "no free slot in the batch");
  bslot *sl = &b->slots[i];
  int rc = llm_gen_begin(sl->g, o, prompt, n, err);
  if (rc) return rc;
  sl->state = llm_gen_finish(sl->g) ? SLOT_DONE : SLOT_RUNNING;
  sl->has_logits = 0;
  *slot_out = i;
  return LLM_OK;
}

int llm_batch_step(llm_batch *b, const llm_tokenizer *tok, llm_pool *pool, const llm_stop *stop, llm_err *err) {
  /* the next token of every sequence that has its logits */
  for (int i = 0; i < b->n; i++) {
    bslot *sl = &b->slots[i];
    if (sl->state != SLOT_RUNNING || !sl->has_logits) continue;
    int32_t token;
    int rc = llm_gen_sample(sl->g, tok, &token, NULL, err);
    if (rc) return rc;
    sl->has_logits = 0;
    if (llm_gen_finish(sl->g)) sl->state = SLOT_DONE;
  }
  /* everything pending, in one forward */
  int k = 0;
  for (int i = 0; i < b->n; i++) {
    bslot *sl = &b->slots[i];
    if (sl->state == SLOT_RUNNING && llm_gen_pending(sl->g, &b->toks[k], &b->counts[k])) {
      b->seqs[k] = sl->s;
      b->rows[k] = b->counts[k] - 1;
      b->which[k++] = i;
    }
  }
  if (!k) return LLM_OK;
  if (stop && stop->fn && stop->fn(stop->arg)) return llm_fail(err, LLM_EINTR, "interrupted");
  int rc = llm_infer_forward_batch(b->ws, b->seqs, b->toks, b->counts, k, pool, err);
  if (rc) return rc;
  const float *logits = llm_infer_logits_batch(b->ws, b->seqs, b->rows, k, pool);
  if (!logits) return llm_fail(err, LLM_ENOMEM, "out of memory for the logits");
  size_t V = (size_t)b->net->cfg.vocab_size;
  for (int j = 0; j < k; j++) {
    bslot *sl = &b->slots[b->which[j]];
    llm_gen_take_logits(sl->g, logits + (size_t)j * V);
    sl->has_logits = 1;
  }
  return LLM_OK;
}

int llm_batch_done(const llm_batch *b) {
  for (int i = 0; i < b->n; i++)
    if (b->slots[i].state == SLOT_DONE) return i;
  return -1;
}

const llm_gen *llm_batch_gen(const llm_batch *b, int slot) { return b->slots[slot].g; }

void llm_batch_release(llm_batch *b, int slot) { b->slots[slot].state = SLOT_FREE; }

int llm_embed_batch(llm_infer *ws, llm_infer *const *seqs, const int32_t *const *tokens, const size_t *n,
                    const size_t *first, int count, int pooling, int normalize, llm_pool *pool,
                    const llm_stop *stop, float *const *out, llm_err *err) {
  llm_infer **run = llm_malloc((size_t)count * sizeof *run);
  const int32_t **toks = llm_malloc((size_t)count * sizeof *toks);
  int *cnt = llm_malloc((size_t)count * sizeof *cnt), *idx = llm_malloc((size_t)count * sizeof *idx);
  size_t *begin = llm_malloc((size_t)count * sizeof *begin);
  int rc = run && toks && cnt && idx && begin ? LLM_OK : llm_fail(err, LLM_ENOMEM, "out of memory");
  int k = 0;
  for (int i = 0; !rc && i < count; i++) {
    size_t end;
    if ((rc = llm_embed_check(seqs[i], n[i], first[i], err))) break;
    if (!llm_embed_span(seqs[i], n[i], first[i], pooling, &begin[i], &end)) {
      /* a text of several windows: alone, as llm_embed runs it */
      rc = llm_embed(seqs[i], tokens[i], n[i], first[i], pooling, normalize, pool, stop, out[i], err);
      continue;
    }
    llm_infer_reset(seqs[i]);
    run[k] = seqs[i];
    toks[k] = tokens[i] + begin[i];
    cnt[k] = (int)(end - begin[i]);
    idx[k++] = i;
  }
  if (!rc && k && stop && stop->fn && stop->fn(stop->arg)) rc = llm_fail(err, LLM_EINTR, "interrupted");
  if (!rc && k) rc = llm_infer_forward_batch(ws, run, toks, cnt, k, pool, err);
  for (int j = 0; !rc && j < k; j++) {
    int i = idx[j];
    llm_embed_pool(seqs[i], n[i], first[i], begin[i], pooling, normalize, out[i]);
  }
  llm_free(run);
  llm_free(toks);
  llm_free(cnt);
  llm_free(idx);
  llm_free(begin);
  return rc;
}
