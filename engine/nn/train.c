/* train.c: a training run (see train.h). */
#include "nn/train.h"

#include <math.h>
#include <string.h>

/* Streams derived from the seed: one per step for its batch, one per step
** for the validation estimate made at that step. */
#define STREAM_BATCH 0
#define STREAM_EVAL 1

struct llm_trainer {
  llm_model *model;
  llm_train_opts o;
  const int32_t *tokens;
  size_t n_train, n_val;
  llm_pool *pool;
  float *m, *v;
  llm_param_seg *segs;
  int n_segs;
  int32_t *inputs, *targets; /* [B, T] */
  int64_t step;
};

void llm_train_opts_default(llm_train_opts *o) {
  memset(o, 0, sizeof *o);
  o->steps = 2000;
  o->batch_size = 12;
  o->lr = 1e-3f;
  o->min_lr = 1e-4f;
  o->warmup_steps = 100;
  o->weight_decay = 0.1f;
  o->grad_clip = 1.0f;
  o->beta1 = 0.9f;
  o->beta2 = 0.99f;
  o->eps = 1e-8f;
  o->eval_batches = 20;
  o->val_fraction = 0.1f;
  o->seed = 1337;
}

static int check_opts(const llm_train_opts *o, const llm_config *c,
                      llm_err *err) {
  if (o->steps < 0) return llm_fail(err, LLM_ERANGE, "steps must be >= 0");
  if (o->batch_size < 1 || o->batch_size > 65536)
    return llm_fail(err, LLM_ERANGE, "batch_size %d is out of range (1..65536)",
                    o->batch_size);
  if (o->seq_len < 1 || o->seq_len > c->block_size)
    return llm_fail(err, LLM_ERANGE,
                    "the window length %d is out of range (1..block_size %d)",
                    o->seq_len, c->block_size);
  if (!(o->lr >= 0 && o->lr < 10) || !(o->min_lr >= 0 && o->min_lr <= o->lr))
    return llm_fail(err, LLM_ERANGE,
                    "lr must be in [0, 10) and min_lr in [0, lr]");
  if (o->warmup_steps < 0)
    return llm_fail(err, LLM_ERANGE, "warmup_steps must be >= 0");
  if (!(o->weight_decay >= 0 && o->weight_decay < 10))
    return llm_fail(err, LLM_ERANGE, "weight_decay must be in [0, 10)");
  if (!(o->grad_clip >= 0))
    return llm_fail(err, LLM_ERANGE, "grad_clip must be >= 0 (0 = off)");
  if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
    return llm_fail(err, LLM_ERANGE, "beta1 and beta2 must be in [0, 1)");
  if (!(o->eps > 0 && o->eps < 1))
    return llm_fail(err, LLM_ERANGE, "eps must be in (0, 1)");
  if (o->eval_batches < 1 || o->eval_batches > 100000)
    return llm_fail(err, LLM_ERANGE, "eval_batches must be in 1..100000");
  if (!(o->val_fraction > 0 && o->val_fraction < 1))
    return llm_fail(err, LLM_ERANGE, "val_fraction must be in (0, 1)");
  return LLM_OK;
}

int llm_trainer_new(llm_model *m, const llm_train_opts *opts,
                    const int32_t *tokens, size_t n, llm_pool *pool,
                    llm_trainer **out, llm_err *err) {
  *out = NULL;
  const llm_config *c = llm_model_config(m);
  llm_train_opts o = *opts;
  if (o.seq_len == 0) o.seq_len = c->block_size;
  int rc = check_opts(&o, c, err);
  if (rc) return rc;
  size_t n_val = (size_t)((double)n * o.val_fraction);
  size_t n_train = n - n_val, window = (size_t)o.seq_len + 1;
  if (n_train < window || n_val < window)
    return llm_fail(err, LLM_EINVAL,
                    "the corpus has %zu tokens: too few for a window of %zu "
                    "tokens in both the training split and the %.0f%% "
                    "validation split",
                    n, window, o.val_fraction * 100);
  for (size_t i = 0; i < n; i++)
    if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
      return llm_fail(err, LLM_EINVAL,
                      "corpus token %zu has id %d, outside the model's "
                      "vocabulary (0..%d)",
                      i, tokens[i], c->vocab_size - 1);
  llm_trainer *t = llm_calloc(1, sizeof *t);
  if (!t) return llm_fail(err, LLM_ENOMEM, "out of memory");
  t->model = m;
  t->o = o;
  t->tokens = tokens;
  t->n_train = n_train;
  t->n_val = n_val;
  t->pool = pool;
  size_t np = llm_model_n_params(m), bt = (size_t)o.batch_size * (size_t)o.seq_len;
  t->n_segs = llm_model_n_tensors(m);
  t->m = llm_calloc(np, sizeof(float));
  t->v = llm_calloc(np, sizeof(float));
  t->segs = llm_calloc((size_t)t->n_segs, sizeof *t->segs);
  t->inputs = llm_calloc(bt, sizeof(int32_t));
  t->targets = llm_calloc(bt, sizeof(int32_t));
  if (!t->m || !t->v || !t->segs || !t->inputs || !t->targets) {
    llm_trainer_free(t);
    return llm_fail(err, LLM_ENOMEM,
                    "out of memory for the optimizer state (%zu parameters)",
                    np);
  }
  for (int i = 0; i < t->n_segs; i++) {
    const llm_tensor *tt = llm_model_tensor(m, i);
    t->segs[i].offset = tt->offset;
    t->segs[i].numel = tt->numel;
    t->segs[i].decay = tt->decay;
  }
  *out = t;
  return LLM_OK;
}

void llm_trainer_free(llm_trainer *t) {
  if (!t) return;
  llm_free(t->m);
  llm_free(t->v);
  llm_free(t->segs);
  llm_free(t->inputs);
  llm_free(t->targets);
  llm_free(t);
}

int64_t llm_trainer_step_index(const llm_trainer *t) { return t->step; }

float *llm_trainer_moment(llm_trainer *t, int which) {
  return which ? t->v : t->m;
}

void llm_trainer_restore(llm_trainer *t, int64_t step) { t->step = step; }

size_t llm_trainer_split(const llm_trainer *t, int which) {
  return which ? t->n_val : t->n_train;
}

/* Fills inputs/targets with B random windows from [base, base + n). */
static void fill_batch(llm_trainer *t, llm_rng *rng, size_t base, size_t n) {
  size_t T = (size_t)t->o.seq_len, starts = n - T; /* n >= T + 1 */
  for (int b = 0; b < t->o.batch_size; b++) {
    size_t s = base + (size_t)llm_rng_below(rng, starts);
    memcpy(t->inputs + (size_t)b * T, t->tokens + s, T * sizeof(int32_t));
    memcpy(t->targets + (size_t)b * T, t->tokens + s + 1, T * sizeof(int32_t));
  }
}

int llm_trainer_step(llm_trainer *t, float *loss, float *lr, float *grad_norm,
                     llm_err *err) {
  llm_rng rng;
  llm_rng_seed2(&rng, t->o.seed, (uint64_t)t->step * 2 + STREAM_BATCH);
  fill_batch(t, &rng, 0, t->n_train);
  int rc = llm_model_forward(t->model, t->inputs, t->targets, t->o.batch_size,
                             t->o.seq_len, t->pool, loss, err);
  if (!rc) rc = llm_model_backward(t->model, t->pool, err);
  if (rc) return rc;
  float *grads = llm_model_grads(t->model);
  size_t np = llm_model_n_params(t->model);
  *grad_norm = llm_clip_grad_norm(grads, np, t->o.grad_clip, t->pool);
  if (!isfinite(*loss) || !isfinite(*grad_norm))
    return llm_fail(err, LLM_ERANGE,
                    "training diverged at step %lld (loss %g, gradient norm "
                    "%g): lower lr",
                    (long long)t->step, *loss, *grad_norm);
  *lr = llm_lr_schedule(t->step, t->o.warmup_steps, t->o.steps, t->o.lr,
                        t->o.min_lr);
  llm_adamw o = {*lr, t->o.beta1, t->o.beta2, t->o.eps, t->o.weight_decay};
  llm_adamw_step(&o, t->step + 1, llm_model_params(t->model), grads, t->m,
                 t->v, t->segs, t->n_segs, t->pool);
  t->step++;
  return LLM_OK;
}

int llm_trainer_eval(llm_trainer *t, float *val_loss, llm_err *err) {
  llm_rng rng;
  llm_rng_seed2(&rng, t->o.seed, (uint64_t)t->step * 2 + STREAM_EVAL);
  double sum = 0;
  for (int i = 0; i < t->o.eval_batches; i++) {
    float loss;
    fill_batch(t, &rng, t->n_train, t->n_val);
    int rc = llm_model_forward(t->model, t->inputs, t->targets,
                               t->o.batch_size, t->o.seq_len, t->pool, &loss,
                               err);
    if (rc) return rc;
    sum += loss;
  }
  *val_loss = (float)(sum / t->o.eval_batches);
  return LLM_OK;
}
