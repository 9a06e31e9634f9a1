/*
** optim.h: AdamW, gradient clipping and the learning-rate schedule.
**
** AdamW follows Loshchilov & Hutter with bias correction, in the order of
** operations of PyTorch's torch.optim.AdamW (single-tensor path), so the
** float32 rounding matches it closely: for step t >= 1,
**   p = p * (1 - lr wd)                     (decoupled decay, first)
**   m = lerp(m, g, 1-b1);  v = b2 v + (1-b2) g^2
**   p = p - lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
** which equals p -= lr * (m^ / (sqrt(v^) + eps) + wd * p) in exact
** arithmetic: the Adam term does not depend on p, so decaying p before or
** after it differs only in rounding. Scalars (1 - lr wd, lr / (1-b1^t),
** sqrt(1-b2^t)) are computed in double and rounded to float, as PyTorch does
** with its Python-float hyperparameters. Weight decay applies only to
** segments marked decay: the model marks its tensors of two or more
** dimensions (weight matrices and embeddings, as nanoGPT does), never
** biases or norm gains.
*/
#ifndef LLM_OPTIM_H
#define LLM_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

typedef struct llm_adamw {
  float lr, beta1, beta2, eps, weight_decay;
} llm_adamw;

/* A run of parameters sharing the decay setting. */
typedef struct llm_param_seg {
  size_t offset, numel;
  int decay;
} llm_param_seg;

/* One AdamW step (t is 1-based; t < 1 counts as 1) over the given segments
** of params, using and updating the moment buffers m and v (same layout as
** params). Segments must not overlap. The pool splits the elements; each is
** updated on its own, so results do not depend on the thread count. */
void llm_adamw_step(const llm_adamw *o, int64_t t, float *params,
                    const float *grads, float *m, float *v,
                    const llm_param_seg *segs, int n_segs, llm_pool *pool);

/* The global L2 norm of grads[0..n) (computed in double); when it exceeds
** max_norm > 0, scales grads by max_norm / norm (max_norm <= 0: never).
** Returns the norm before clipping. The per-thread partial sums are added
** in thread order, so a given thread count always gives the same bits. A
** non-finite norm (inf or NaN gradients) is returned with grads untouched:
** the caller should skip the step. */
float llm_clip_grad_norm(float *grads, size_t n, float max_norm,
                         llm_pool *pool);

/* Learning rate at step (0-based): linear warm-up from 0 over warmup
** steps (lr * (step + 1) / warmup), then cosine decay from lr to min_lr at
** total steps, and min_lr after:
**   min_lr + 0.5 (1 + cos(pi (step - warmup) / (total - warmup))) (lr - min_lr)
** as in nanoGPT. warmup may be 0 (step 0 then gets lr). The warm-up is
** checked first, so with total <= warmup the rate warms up and then drops
** to min_lr. A negative step or warmup counts as 0. */
float llm_lr_schedule(int64_t step, int64_t warmup, int64_t total, float lr,
                      float min_lr);

#endif
