/*
** infer.h: running a trained model over one token sequence, for
** generation, embeddings and scoring.
**
** An llm_infer holds a KV cache for one sequence of up to block_size
** tokens and the scratch of one forward pass, all allocated once by
** llm_infer_new: nothing is allocated per token or per call after that.
** llm_infer_forward appends n tokens to the sequence in one batch: with
** n > 1 (a prompt: "prefill") every product is a matrix-matrix product
** through sgemm; with n = 1 (a generation step: "decode") they are
** matrix-vector products split over the pool's threads by output rows, so
** that the weights stream from memory once per token on every core.
**
** After a forward, the final hidden states of its n tokens (after the
** final norm: what the head sees) are available, and the logits of any of
** them on request (the head is the largest matrix: computing it only for
** the rows wanted saves most of the work of prefill and embeddings).
**
** The model's parameters are read, never written, so several llm_infer
** may share one model.
*/
#ifndef LLM_INFER_H
#define LLM_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "nn/net.h"
#include "pool.h"

typedef struct llm_infer llm_infer;

/* Rows of logits llm_infer_logits computes per call, at most. */
#define LLM_INFER_LOGIT_ROWS 32

/* Bytes llm_infer_new and a first short text allocate for this config
** (for memory limits; the cache and scratch grow with longer texts). */
size_t llm_infer_bytes(const llm_config *c);

/* A sequence over the weights of net, which must outlive it (and is only
** read: several llm_infer may share one net). */
int llm_infer_new(const llm_net *net, llm_infer **out, llm_err *err);
/* The same over a model trained here (the sequence keeps its own views of
** the model's tensors; the model must outlive it). */
int llm_infer_new_model(const llm_model *m, llm_infer **out, llm_err *err);
void llm_infer_free(llm_infer *s);

const llm_net *llm_infer_net(const llm_infer *s);
const llm_config *llm_infer_config(const llm_infer *s);

/* The KV cache's element type: float32 (the default), or float16 (half
** the memory; each key and value rounded to the nearest half, ties to
** even, as it is stored; decode attention reads the halves directly,
** prefill widens the keys and values it needs into float scratch). */
enum { LLM_KV_F32 = 0, LLM_KV_F16 = 1 };
/* Sets it: a change empties the sequence and frees its cache (the next
** forward allocates one of the new type). LLM_EINVAL for another type. */
int llm_infer_set_kv_type(llm_infer *s, int type, llm_err *err);
int llm_infer_kv_type(const llm_infer *s);

/* Empties the sequence. */
void llm_infer_reset(llm_infer *s);
/* Tokens in the sequence (the next token's position). */
int llm_infer_pos(const llm_infer *s);

/* Appends tokens[0..n) at positions pos..pos+n-1 and runs them through the
** model. Fails (changing nothing) unless 1 <= n and pos + n <= block_size
** and every id is in [0, vocab_size), or when memory for a longer cache
** cannot be had. An encoder (bidirectional attention) takes all of a
** text's tokens in one forward from position 0. */
int llm_infer_forward(llm_infer *s, const int32_t *tokens, int n,
                      llm_pool *pool, llm_err *err);

/* Several sequences at once: seqs[i] appends tokens[i][0..n[i]), as
** llm_infer_forward on it would, into its own cache; the products run over
** all their rows together in the scratch of ws (any sequence over the
** same net; it may be one of seqs). Each sequence's states, logits and
** cache come out bitwise as if it had run alone: a row's products do not
** depend on the rows beside it (nn/linear.h), the attention is each
** sequence's own, and a long text goes in the same passes either way.
** Checks everything before changing anything. */
int llm_infer_forward_batch(llm_infer *ws, llm_infer *const *seqs,
                            const int32_t *const *tokens, const int *n,
                            int count, llm_pool *pool, llm_err *err);

/* Logits [count, V] of row rows[i] of seqs[i]'s last forward, in one
** product in ws's scratch; valid until the next call on ws; NULL when out
** of memory. */
const float *llm_infer_logits_batch(llm_infer *ws, llm_infer *const *seqs,
                                    const int *rows, int count,
                                    llm_pool *pool);

/* The final hidden states [n, C] of the tokens of the last forward. */
const float *llm_infer_hidden(const llm_infer *s);

/* Logits [nrows, V] of rows row0..row0+nrows-1 of the last forward;
** 1 <= nrows <= LLM_INFER_LOGIT_ROWS. The result stays valid until the
** next call on s; NULL when out of memory. Decoders only (an encoder has
** no head). */
const float *llm_infer_logits(llm_infer *s, int row0, int nrows,
                              llm_pool *pool);

/* ---- over sequences of any length (score.c) ---- */

/* Texts longer than the context are run in windows of block_size tokens
** that overlap by half: each window after the first starts afresh and
** covers block_size / 2 new tokens, so every token is seen with at least
** block_size / 2 tokens of context (all of them, up to block_size - 1, in
** the first window). */

/* Sum of log p(tokens[t] | tokens[..t]) over t in [first, n), first >= 1:
** tokens[0..first) are context only (a start token, a prefix). Decoders
** only. */
int llm_score(llm_infer *s, const int32_t *tokens, size_t n, size_t first,
              llm_pool *pool, const llm_stop *stop, double *logprob,
              llm_err *err);

/* out[C]: the pooling (LLM_POOL_*, model.h) of the final hidden states of
** tokens[t], t in [first, n) (first < n): their mean, the last one, or
** (CLS) the first one; then divided by its L2 norm when normalize is set
** (a zero vector stays zero). An encoder's text must fit its context. */
int llm_embed(llm_infer *s, const int32_t *tokens, size_t n, size_t first,
              int pooling, int normalize, llm_pool *pool, const llm_stop *stop,
              float *out, llm_err *err);

/* llm_embed in parts, for embedding many texts together (nn/batch.h).
** llm_embed_check: the checks of llm_embed's arguments. llm_embed_span:
** when llm_embed runs the text in one forward from an empty sequence
** (always, unless the mean of a decoder's text longer than its context is
** asked), returns 1 with the tokens it runs, [*begin, *end). After such a
** forward, llm_embed_pool pools the states as llm_embed does, bitwise.
** llm_embed_pooling: the pooling that LLM_POOL_DEFAULT means for s. */
int llm_embed_check(const llm_infer *s, size_t n, size_t first, llm_err *err);
int llm_embed_span(const llm_infer *s, size_t n, size_t first, int pooling,
                   size_t *begin, size_t *end);
void llm_embed_pool(const llm_infer *s, size_t n, size_t first, size_t begin,
                    int pooling, int normalize, float *out);
int llm_embed_pooling(const llm_infer *s, int pooling);

#endif
