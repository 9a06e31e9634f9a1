/* optim.c: AdamW, gradient-norm clipping and the learning-rate schedule
** (see optim.h). */
#include "nn/optim.h"

#include <math.h>
#include <string.h>

/* ---- AdamW ---------------------------------------------------------- */

/* The per-step constants, in float as PyTorch uses them: its scalars are
** Python doubles, computed in double and rounded to the tensor's float type
** when they enter a kernel. Matching that keeps our rounding close to
** torch.optim.AdamW's (single-tensor path). */
typedef struct adamw_job {
  float *params;
  const float *grads;
  float *m, *v;
  const llm_param_seg *segs;
  int n_segs;
  float decay_mul;   /* 1 - lr * wd */
  int apply_decay;   /* wd != 0: PyTorch skips the multiply entirely then */
  float w1;          /* 1 - beta1: lerp weight for m */
  float beta2, c2;   /* v = v * beta2 + c2 * g * g, c2 = 1 - beta2 */
  float neg_step;    /* -lr / (1 - beta1^t) */
  float bc2_sqrt;    /* sqrt(1 - beta2^t) */
  float eps;
} adamw_job;

/* The update of n elements with m blended as m + w1 (g - m) (small_w1) or
** g - (g - m)(1 - w1): PyTorch's lerp picks the formula by the weight's
** size, for accuracy near both ends. Branch-free inside, so the compiler
** can vectorize it; a decay multiplier of exactly 1 (no decay) leaves every
** parameter bit unchanged, like PyTorch skipping the multiply. */
#if defined(__GNUC__) && !defined(__clang__)
/* -O2 alone does not vectorize this loop (GCC's cheapest cost model); the
** build passes -fno-math-errno so that sqrtf can become a vector op. */
__attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void adamw_loop(const adamw_job *j, float decay_mul, int small_w1,
                       float *restrict p, const float *restrict g,
                       float *restrict m, float *restrict v, size_t n) {
  /* both lerp forms as base + coef (g - m): m + w1 (g - m), or
  ** g - (1 - w1)(g - m) with the sign in coef (negation is exact) */
  const float coef = small_w1 ? j->w1 : -(1.0f - j->w1), beta2 = j->beta2,
              c2 = j->c2, bc2_sqrt = j->bc2_sqrt, eps = j->eps,
              neg_step = j->neg_step;
  for (size_t i = 0; i < n; i++) {
    float pi = p[i] * decay_mul; /* decoupled decay first (param.mul_) */
    float gi = g[i];
    float mi = (small_w1 ? m[i] : gi) + coef * (gi - m[i]);
    float vi = v[i] * beta2 + c2 * gi * gi; /* v.mul_(b2).addcmul_(g, g, c2) */
    float denom = sqrtf(vi) / bc2_sqrt + eps;
    p[i] = pi + neg_step * mi / denom; /* p.addcdiv_(m, denom, -step) */
    m[i] = mi;
    v[i] = vi;
  }
}

static void adamw_range(const adamw_job *j, int decay, size_t off, size_t n) {
  float decay_mul = decay && j->apply_decay ? j->decay_mul : 1.0f;
  float *p = j->params + off, *m = j->m + off, *v = j->v + off;
  const float *g = j->grads + off;
  if (fabsf(j->w1) < 0.5f)
    adamw_loop(j, decay_mul, 1, p, g, m, v, n);
  else
    adamw_loop(j, decay_mul, 0, p, g, m, v, n);
}

/* Items [lo, hi) of the segments laid end to end, in the given order. */
static void adamw_task(void *ctx, size_t lo, size_t hi, int tid) {
  const adamw_job *j = ctx;
  (void)tid;
  size_t base = 0;
  for (int s = 0; s < j->n_segs && base < hi; s++) {
    const llm_param_seg *seg = &j->segs[s];
    size_t a = lo > base ? lo - base : 0;
    size_t b = hi - base < seg->numel ? hi - base : seg->numel;
    if (a < b) adamw_range(j, seg->decay, seg->offset + a, b - a);
    base += seg->numel;
  }
}

void llm_adamw_step(const llm_adamw *o, int64_t t, float *params,
                    const float *grads, float *m, float *v,
                    const llm_param_seg *segs, int n_segs, llm_pool *pool) {
  /* Step numbers count from 1; an earlier one would divide by a zero bias
  ** correction, so treat it as the first step. */
  if (t < 1) t = 1;
  double lr = (double)o->lr, b1 = (double)o->beta1, b2 = (double)o->beta2,
         wd = (double)o->weight_decay;
  double bc1 = 1.0 - pow(b1, (double)t);
  double bc2 = 1.0 - pow(b2, (double)t);
  adamw_job j;
  j.params = params;
  j.grads = grads;
  j.m = m;
  j.v = v;
  j.segs = segs;
  j.n_segs = n_segs;
  j.decay_mul = (float)(1.0 - lr * wd);
  j.apply_decay = wd != 0.0;
  j.w1 = (float)(1.0 - b1);
  j.beta2 = o->beta2;
  j.c2 = (float)(1.0 - b2);
  j.neg_step = (float)(-(lr / bc1));
  j.bc2_sqrt = (float)sqrt(bc2);
  j.eps = o->eps;
  /* One dispatch over all segments: many are tiny (biases, norm gains), and
  ** a dispatch each would cost more than their arithmetic. Every element is
  ** updated on its own, so the split cannot change any result. */
  size_t total = 0;
  for (int s = 0; s < n_segs; s++) total += segs[s].numel;
  llm_pool_for(pool, total, adamw_task, &j);
}

/* ---- Gradient clipping ---------------------------------------------- */

#define MAX_THREADS 64 /* llm_pool_new's limit */

typedef struct norm_job {
  float *g;
  double part[MAX_THREADS]; /* sum of squares of each thread's chunk */
  float scale;
} norm_job;

static void sumsq_task(void *ctx, size_t lo, size_t hi, int tid) {
  norm_job *j = ctx;
  /* Eight independent sums in a fixed order: the same bits every time, and
  ** no single long dependency chain. */
  double acc[8] = {0};
  size_t i = lo;
  for (; i + 8 <= hi; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += (double)j->g[i + k] * (double)j->g[i + k];
  for (; i < hi; i++) acc[0] += (double)j->g[i] * (double)j->g[i];
  double s = 0;
  for (int k = 0; k < 8; k++) s += acc[k];
  j->part[tid] = s;
}

static void scale_task(void *ctx, size_t lo, size_t hi, int tid) {
  norm_job *j = ctx;
  (void)tid;
  for (size_t i = lo; i < hi; i++) j->g[i] *= j->scale;
}

float llm_clip_grad_norm(float *grads, size_t n, float max_norm,
                         llm_pool *pool) {
  norm_job j;
  memset(j.part, 0, sizeof j.part); /* threads with empty chunks write none */
  j.g = grads;
  j.scale = 1.0f;
  llm_pool_for(pool, n, sumsq_task, &j);
  /* Partial sums combined in thread order: the same thread count gives the
  ** same chunks and the same additions, so the same bits. */
  double sum = 0;
  int n_threads = llm_pool_threads(pool);
  for (int i = 0; i < n_threads && i < MAX_THREADS; i++) sum += j.part[i];
  double norm = sqrt(sum);
  /* A non-finite norm is returned as it is, with grads left alone: scaling
  ** by max_norm / inf would turn the finite gradients to 0 and the infinite
  ** ones to NaN, hiding which were bad. The caller should skip the step. */
  if (max_norm > 0 && isfinite(norm) && norm > (double)max_norm) {
    j.scale = (float)((double)max_norm / norm);
    llm_pool_for(pool, n, scale_task, &j);
  }
  return (float)norm;
}

/* ---- Learning-rate schedule ----------------------------------------- */

float llm_lr_schedule(int64_t step, int64_t warmup, int64_t total, float lr,
                      float min_lr) {
  if (step < 0) step = 0;
  if (warmup < 0) warmup = 0;
  if (step < warmup) return (float)((double)lr * (double)(step + 1) / (double)warmup);
  /* Here step >= warmup, so step < total implies total > warmup: the
  ** division below is never by zero, and total <= warmup goes straight
  ** from the warm-up to min_lr. */
  if (step >= total) return min_lr;
  double ratio = (double)(step - warmup) / (double)(total - warmup);
  const double pi = 3.14159265358979323846;
  double coeff = 0.5 * (1.0 + cos(pi * ratio));
  return (float)((double)min_lr + coeff * ((double)lr - (double)min_lr));
}
