/*
** batch.h: running a model over many texts at once: generations with
** continuous batching, and embeddings in batches.
**
** Generation: an llm_batch has `slots` sequences, each with its own KV
** cache (grown with use) and generator (sampler, random state, text). A
** step samples the next token of every sequence that has logits, then
** runs everything pending (new prompts, each sequence's newest token, a
** window that slides) through the model in one batched forward
** (llm_infer_forward_batch) and one product for the logits. A finished
** generation frees its slot at once for the next text (continuous
** batching). Each text comes out bitwise as llm_gen_start / llm_gen_step
** make it alone, whatever runs beside it: the forward is batch-invariant
** (infer.h) and every sequence samples from its own generator.
**
**   llm_batch_new(net, slots, &b);
**   while (rows left or llm_batch_active(b)) {
**     while (rows left and llm_batch_free_slots(b)) llm_batch_add(b, opts, prompt, n, &slot);
**     llm_batch_step(b, tok, pool);
**     while ((slot = llm_batch_done(b)) >= 0) { read llm_batch_gen(b, slot); llm_batch_release(b, slot); }
**   }
**
** Embeddings: llm_embed_batch embeds several texts with one forward
** (bitwise llm_embed's results).
*/
#ifndef LLM_BATCH_H
#define LLM_BATCH_H

#include "nn/generate.h"
#include "nn/infer.h"

typedef struct llm_batch llm_batch;

/* A batch of slots >= 1 sequences over net (which must outlive it). */
int llm_batch_new(const llm_net *net, int slots, llm_batch **out, llm_err *err);
void llm_batch_free(llm_batch *b);

int llm_batch_free_slots(const llm_batch *b);
/* Slots in use: generating, or finished and not yet released. */
int llm_batch_active(const llm_batch *b);

/* Starts a generation of prompt[0..n) in a free slot (*slot); the options
** as for llm_gen_begin (the stop strings must outlive the generation). A
** generation that ends before any token (max_tokens 0) is done at once. */
int llm_batch_add(llm_batch *b, const llm_gen_opts *o, const int32_t *prompt, size_t n, int *slot,
                  llm_err *err);

/* One step of every generation (see above). stop is polled before the
** forward. A failure leaves the batch unusable but freeable. */
int llm_batch_step(llm_batch *b, const llm_tokenizer *tok, llm_pool *pool, const llm_stop *stop,
                   llm_err *err);

/* A slot whose generation is over and not yet released, or -1. */
int llm_batch_done(const llm_batch *b);
/* The generator of a slot (its text, finish, count). */
const llm_gen *llm_batch_gen(const llm_batch *b, int slot);
/* Frees a finished slot for the next text. */
void llm_batch_release(llm_batch *b, int slot);

/* Embeds count texts (tokens[i][0..n[i]), pooled from first[i]) into
** out[i][C] as llm_embed(..., pooling, normalize) does, bitwise: texts that
** llm_embed runs in one forward run together in one batched forward
** through seqs[0..count) (sequences over the same net; their caches are
** reset), the others alone. ws: the workspace of the batched forward. */
int llm_embed_batch(llm_infer *ws, llm_infer *const *seqs, const int32_t *const *tokens, const size_t *n,
                    const size_t *first, int count, int pooling, int normalize, llm_pool *pool,
                    const llm_stop *stop, float *const *out, llm_err *err);

#endif
