/*
** generate.h: sampling the next token from logits, and generating text
** token by token over an llm_infer.
**
** Sampling applies, in this order: the repetition penalty (CTRL's: a
** logit of a token already in the context is divided by the penalty when
** positive, multiplied when negative), the temperature, then the filters
** top_k, top_p (nucleus: the smallest set of most likely tokens whose
** probabilities reach top_p) and min_p (tokens at least min_p times as
** likely as the most likely one), and draws from what is left. Temperature
** 0 is greedy: the most likely token (the lowest id among equals). All
** randomness comes from the caller's generator, so a seed fixes the text.
**
** Generation: llm_gen_start runs the prompt through the model in one
** batch (keeping its last block_size tokens when it is longer);
** llm_gen_step samples one token and runs it through the model for the
** next. When the context is full, the window slides: the model starts
** afresh on the last block_size / 2 tokens (one batched forward), so
** generation can go on past the context. It ends at the end-of-text
** token, a stop string (the text is cut where the stop string begins),
** max_tokens, or, under a JSON constraint, when the value is complete.
*/
#ifndef LLM_GENERATE_H
#define LLM_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "nn/infer.h"
#include "rng.h"
#include "text/json_constrain.h"
#include "text/tokenizer.h"

typedef struct llm_sample_opts {
  float temperature;        /* >= 0; 0 is greedy */
  int32_t top_k;            /* 0: no limit */
  float top_p;              /* (0, 1]; 1: no limit */
  float min_p;              /* [0, 1]; 0: no limit */
  float repetition_penalty; /* > 0; 1: none */
} llm_sample_opts;

/* temperature 1, no filters, no penalty. */
void llm_sample_opts_default(llm_sample_opts *o);
/* Checks the ranges above; the message names the option. */
int llm_sample_opts_check(const llm_sample_opts *o, llm_err *err);

typedef struct llm_sampler llm_sampler;

int llm_sampler_new(int32_t vocab_size, llm_sampler **out, llm_err *err);
void llm_sampler_free(llm_sampler *s);

/* Picks a token from logits[V] (overwritten). history[0..n_history) are
** the tokens the repetition penalty applies to. *logprob (may be NULL)
** receives the token's log-probability under the model's own
** distribution: the log-softmax of the logits as given, before any
** penalty, temperature or filter (under a JSON constraint the logits
** given are already masked: the distribution is the model's over the
** tokens the constraint allows). */
int32_t llm_sample(llm_sampler *s, const llm_sample_opts *o, float *logits,
                   const int32_t *history, size_t n_history, llm_rng *rng,
                   float *logprob);

/* A byte string (a stop string). */
typedef struct llm_bytes {
  const uint8_t *data;
  size_t len;
} llm_bytes;

typedef struct llm_gen_opts {
  llm_sample_opts sample;
  int64_t max_tokens; /* >= 0 */
  uint64_t seed;
  /* Generation ends when either is sampled (-1: none): the end-of-text
  ** token, and the start token, which in llama2.c-style training data
  ** separates one text from the next; and at any of the tokenizer's
  ** end-of-generation tokens (llm_tokenizer_is_eog). */
  int32_t eos_id, bos_id;
  const llm_bytes *stops; /* not copied: must outlive the generation */
  size_t n_stops;
  /* Output constrained to a JSON value valid against a schema, or NULL.
  ** Before each token the tokens that cannot continue the value are masked
  ** out (and the end-of-text tokens until the value is complete);
  ** generation ends (LLM_FINISH_JSON) as soon as nothing may follow it.
  ** json_vocab is the tokenizer's vocabulary (llm_jcon_vocab_of); both
  ** must outlive the generation. No stop strings with it: they would cut
  ** the value. */
  const llm_jcon *json;
  llm_jcon_vocab *json_vocab;
  /* The KV cache's element type (LLM_KV_F32, LLM_KV_F16: infer.h), set on
  ** the sequence when the generation begins. */
  int kv_type;
} llm_gen_opts;

enum {
  LLM_FINISH_NONE = 0, /* still going */
  LLM_FINISH_EOS,      /* the end-of-text (or start) token was sampled */
  LLM_FINISH_STOP,     /* a stop string appeared */
  LLM_FINISH_LENGTH,   /* max_tokens were generated */
  LLM_FINISH_JSON,     /* the JSON value is complete (llm_gen_opts.json) */
};

/* "eos", "stop", "length", "json" (NULL for NONE). */
const char *llm_finish_name(int finish);

typedef struct llm_gen llm_gen;

/* A generator over s (its buffers are allocated here, once). */
int llm_gen_new(llm_infer *s, llm_gen **out, llm_err *err);
void llm_gen_free(llm_gen *g);

/* Starts a generation after prompt[0..n), n >= 1 (the caller puts the
** start token first when the model has one). stop is polled between
** tokens of a long prompt. */
int llm_gen_start(llm_gen *g, const llm_gen_opts *o, const int32_t *prompt,
                  size_t n, llm_pool *pool, const llm_stop *stop,
                  llm_err *err);

/* Generates one token: *token (-1 when generation was already over) and
** its *logprob (see llm_sample; logprob may be NULL, which saves a pass
** over the vocabulary), decoding it with tok (the model's
** tokenizer; ids past its vocabulary are never sampled). Afterwards
** llm_gen_finish tells whether that was the last: for LLM_FINISH_EOS the
** token is the end-of-text token, which adds no text. */
int llm_gen_step(llm_gen *g, const llm_tokenizer *tok, llm_pool *pool,
                 int32_t *token, float *logprob, llm_err *err);

int llm_gen_finish(const llm_gen *g);

/* llm_gen_start and llm_gen_step in parts, for running many generations
** together (nn/batch.h): the caller runs each generator's forward
** (several in one llm_infer_forward_batch) and hands it the logits.
** llm_gen_begin checks and sets up (no forward); llm_gen_pending gives the
** tokens its sequence must run next (0: none, the generation is over),
** resetting the sequence when it starts afresh; llm_gen_take_logits takes
** the logits [V] of the last of them; llm_gen_sample samples the next token
** as llm_gen_step does, without running it. The same calls in the same
** order give the same text as llm_gen_start and llm_gen_step. */
int llm_gen_begin(llm_gen *g, const llm_gen_opts *o, const int32_t *prompt,
                  size_t n, llm_err *err);
int llm_gen_pending(llm_gen *g, const int32_t **tokens, int *n);
void llm_gen_take_logits(llm_gen *g, const float *logits);
int llm_gen_sample(llm_gen *g, const llm_tokenizer *tok, int32_t *token,
                   float *logprob, llm_err *err);
/* The sequence the generator runs. */
llm_infer *llm_gen_infer(const llm_gen *g);
/* Tokens generated so far (the end-of-text token included). */
int64_t llm_gen_count(const llm_gen *g);

/* The text generated so far; after a stop string, the text before it. */
const uint8_t *llm_gen_text(const llm_gen *g, size_t *len);
/* How many bytes of that text are final: all of it once generation is
** over, else all but a tail that could still begin a stop string. */
size_t llm_gen_stable(const llm_gen *g);

#endif
