/*
** train.h: a training run over a token stream: batches of random windows,
** the learning-rate schedule, gradient clipping, AdamW, and the validation
** estimate. Everything random is derived from (seed, step), so a run that
** is stopped and resumed from a checkpoint (parameters, AdamW moments,
** step) continues exactly as if it had never stopped.
**
** The stream is split once: the first (1 - val_fraction) of the tokens train,
** the rest validate. A batch is B windows of T + 1 consecutive tokens at
** uniformly random starts (inputs are the first T, targets the last T).
*/
#ifndef LLM_TRAIN_H
#define LLM_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/model.h"
#include "nn/optim.h"

typedef struct llm_train_opts {
  int64_t steps;        /* total optimizer steps of the run */
  int32_t batch_size;   /* B */
  int32_t seq_len;      /* T: window length, <= block_size (0 = block_size) */
  float lr, min_lr;
  int64_t warmup_steps;
  float weight_decay, grad_clip, beta1, beta2, eps;
  int32_t eval_batches; /* batches averaged for the validation loss */
  float val_fraction;
  uint64_t seed;
} llm_train_opts;

/* nanoGPT-like defaults. */
void llm_train_opts_default(llm_train_opts *o);

typedef struct llm_trainer llm_trainer;

/* Prepares a run of model m over tokens[0..n) (not copied: they must
** outlive the trainer). Checks the options and that both splits hold at
** least one window. */
int llm_trainer_new(llm_model *m, const llm_train_opts *o,
                    const int32_t *tokens, size_t n, llm_pool *pool,
                    llm_trainer **out, llm_err *err);
void llm_trainer_free(llm_trainer *t);

/* Steps done so far (the next step's 0-based index). */
int64_t llm_trainer_step_index(const llm_trainer *t);

/* The AdamW first and second moments (same layout as the parameters), for
** checkpoints; llm_trainer_restore puts a checkpoint back. */
float *llm_trainer_moment(llm_trainer *t, int which /* 0 = m, 1 = v */);
void llm_trainer_restore(llm_trainer *t, int64_t step);

/* One optimizer step. Reports the batch's loss, the learning rate used and
** the gradient norm before clipping. */
int llm_trainer_step(llm_trainer *t, float *loss, float *lr, float *grad_norm,
                     llm_err *err);

/* Mean loss over eval_batches random validation batches (drawn from a
** stream derived from the seed and the current step). */
int llm_trainer_eval(llm_trainer *t, float *val_loss, llm_err *err);

/* Tokens in the training and validation splits. */
size_t llm_trainer_split(const llm_trainer *t, int which /* 0 train, 1 val */);

#endif
